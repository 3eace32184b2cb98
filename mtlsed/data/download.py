"""Download the public data sets the paper used: ``mtlsed download NAME --to DIR``.

Three sets are known (:data:`REGISTRY`):

``tut2018-dev``
    DCASE 2018 task 1 backgrounds, TUT Urban Acoustic Scenes 2018 development set (Zenodo record
    1228142): 13 audio archives, ``doc`` and ``meta``. It unpacks to ``DIR/TUT-urban-acoustic-scenes-2018-
    development/``, the folder ``mtlsed mix-dcase2018 --backgrounds`` reads.
``fsd2018``
    DCASE 2018 task 2 events, FSDKaggle2018 (Zenodo record 2552860): the training audio, ``meta`` and
    ``doc`` (the test audio is not needed). It unpacks to ``DIR/FSDKaggle2018/`` (the Zenodo layout),
    the folder ``--events`` reads.
``desed``
    not downloadable from one place (its weak set is a list of YouTube clips): asking for it raises an
    error that says how to get it.

Every archive is fetched resumably (a partial ``ARCHIVE.part`` is continued with an HTTP ``Range``
request), verified before it is unpacked (the published MD5 or, where none is published, the sha256
recorded at its first download in ``DIR/.mtlsed-download/checksums.json``), then unpacked with every
member checked to stay inside the target folder. A marker per archive (``DIR/.mtlsed-download/
ARCHIVE.done``) makes a rerun skip what is finished; the archive itself is removed once unpacked
unless ``keep_archives``. A mirror (``mirror=`` or ``$MTLSED_DOWNLOAD_MIRROR``) is a base URL under
which the archives are served by their file names.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from mtlsed.core.atomic import write_json
from mtlsed.core.diskspace import FULL, ensure_free, free_bytes, human_size
from mtlsed.core.errors import UserError

MIRROR_ENV = "MTLSED_DOWNLOAD_MIRROR"
STATE_DIR = ".mtlsed-download"
CHECKSUMS_FILE = "checksums.json"
CHUNK = 1 << 20
TIMEOUT_S = 60.0
NO_CHECKSUM = "no published checksum: recorded at first download"


class DownloadError(UserError):
    """A download that cannot go on: network, space, an unknown name, a refused archive."""


class ChecksumError(DownloadError):
    """An archive whose checksum (or size) is not the expected one; the file was set aside."""


@dataclass(frozen=True)
class Archive:
    """One published archive of a data set."""

    name: str  # the file name, as served
    url: str
    size: int | None  # bytes, as published (None: not published)
    md5: str | None  # the published MD5 (None: sha256 recorded at first download)
    unpacks_to: str  # the top folder it unpacks to
    part: str  # the short id ``--parts`` takes


@dataclass(frozen=True)
class DataSet:
    """A data set: its archives and where they go under ``--to``, or why it cannot be downloaded."""

    name: str
    title: str
    page: str
    archives: tuple[Archive, ...] = ()
    extract_into: str = ""  # the folder under --to the archives unpack into
    root: str = ""  # the folder under --to that mix-dcase2018 reads
    option: str = ""  # the mix-dcase2018 option that takes it
    always: tuple[str, ...] = ("meta",)  # parts fetched whatever --parts says
    message: str = ""  # set when it cannot be downloaded: how to get it

    def part_ids(self) -> list[str]:
        return [a.part for a in self.archives]


# -- the registry ---------------------------------------------------------------------------------

# TUT Urban Acoustic Scenes 2018, development set: URLs, sizes and MD5s copied from dcase_util 0.2.20,
# dcase_util/datasets/tut.py, class TUTUrbanAcousticScenes_2018_DevelopmentSet (package_list).
_TUT = "TUT-urban-acoustic-scenes-2018-development"
_TUT_URL = "https://zenodo.org/records/1228142/files/"
_TUT_AUDIO = [  # (part, bytes, md5)
    ("1", 1657811579, "62f97087c447e29def8716204469bf89"),
    ("2", 1783489370, "8e569a92025d82bff6b02b956d7c6dc9"),
    ("3", 1809675304, "00d2020582a4535af5e65322fb2bad56"),
    ("4", 1756582525, "d691eb4271f83ba6ba9a28797accc497"),
    ("5", 1724002546, "c4d64b5483b60f85e9fe080b3435a6be"),
    ("6", 1645753049, "2f0feee78f216697eb19497714d97642"),
    ("7", 1671903917, "07cfefe80a0731de6819181841239f3a"),
    ("8", 1673304843, "213f3c012859c2e9dcb74aacc8558458"),
    ("9", 1674839259, "b724442b09abcb3bd095ebff497cef85"),
    ("10", 1662932947, "a27a32fa52e283ed8013375b8a16f269"),
    ("11", 1751473843, "7073a121e825ffef99832507f30d6644"),
    ("12", 1742332198, "6567aa61db12776568b6267ce122fb18"),
    ("13", 798990513, "d00eeb2db0e093d8975521323a96c519"),
]


def _tut_archive(part: str, suffix: str, size: int, md5: str) -> Archive:
    name = f"{_TUT}.{suffix}.zip"
    return Archive(name, _TUT_URL + name, size, md5, _TUT, part)


TUT2018_DEV = DataSet(
    name="tut2018-dev",
    title="TUT Urban Acoustic Scenes 2018, development dataset (DCASE 2018 task 1): backgrounds",
    page="https://zenodo.org/records/1228142",
    archives=(
        _tut_archive("doc", "doc", 10517, "28a4a9c46a6f46709ecc8eece365a3a4"),
        _tut_archive("meta", "meta", 69272, "e196065ee83c07af03a11a310364377d"),
        *(_tut_archive(part, f"audio.{part}", size, md5) for part, size, md5 in _TUT_AUDIO),
    ),
    extract_into="",
    root=_TUT,
    option="--backgrounds",
)

# FSDKaggle2018 (Zenodo record 2552860): the MD5 of each archive as listed for the record's files. Zenodo's
# API could not be reached from where this was written; the same three MD5s are given by two independent
# public scripts that verify the record's archives. Their sizes were not confirmed: the MD5 decides.
_FSD_URL = "https://zenodo.org/records/2552860/files/"
_FSD_MD5 = {
    "doc": "4f2d1ac88f33a62f9db3108b269ee1b7",
    "meta": "f16828ac8be0e5285b9175a12f90d784",
    "audio_train": "a8b47ff4b52022c178f88fa5c6f080d0",
}


def _fsd_archive(part: str) -> Archive:
    name = f"FSDKaggle2018.{part}.zip"
    return Archive(name, _FSD_URL + name, None, _FSD_MD5[part], f"FSDKaggle2018.{part}", part)


FSD2018 = DataSet(
    name="fsd2018",
    title="FSDKaggle2018 (DCASE 2018 task 2): sound events",
    page="https://zenodo.org/records/2552860",
    archives=(_fsd_archive("doc"), _fsd_archive("meta"), _fsd_archive("audio_train")),
    extract_into="FSDKaggle2018",
    root="FSDKaggle2018",
    option="--events",
)

DESED = DataSet(
    name="desed",
    title="DESED (DCASE 2020 task 4): domestic sound events",
    page="https://project.inria.fr/desed/",
    message=(
        "DESED cannot be downloaded by mtlsed: its weakly labelled set is a list of YouTube clips that each "
        "user fetches. Get it with the `desed` package (pip install desed; see "
        "https://github.com/turpaultn/DESED#installation) or the download scripts of DESED_task "
        "(https://github.com/DCASE-REPO/DESED_task), then run `mtlsed import-desed DESED OUT`."
    ),
)

REGISTRY: dict[str, DataSet] = {s.name: s for s in (TUT2018_DEV, FSD2018, DESED)}


# -- small helpers --------------------------------------------------------------------------------


def get_set(name: str, registry: dict[str, DataSet] | None = None) -> DataSet:
    """The registry entry ``name``; an unknown name, or a set that cannot be downloaded, raises."""
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise DownloadError(f"unknown data set {name!r}; known: {', '.join(registry)}")
    dataset = registry[name]
    if not dataset.archives:
        raise DownloadError(f"{name}: {dataset.message}")
    return dataset


def select_archives(dataset: DataSet, parts: list[str] | None) -> list[Archive]:
    """The archives ``parts`` names (archive names or part ids; None: all), plus the ones always needed."""
    if not parts:
        return list(dataset.archives)
    wanted = set(dataset.always)
    for p in parts:
        match = [a.part for a in dataset.archives if p in (a.part, a.name)]
        if not match:
            raise DownloadError(
                f"{dataset.name}: unknown part {p!r}; parts are {', '.join(dataset.part_ids())} "
                "(or the archive names `--list` shows)"
            )
        wanted.update(match)
    return [a for a in dataset.archives if a.part in wanted]


MIRROR_SCHEMES = ("http", "https", "ftp", "file")  # what urllib fetches


def check_mirror(mirror: str | None) -> None:
    """Refuse a mirror (``--mirror`` or ``$MTLSED_DOWNLOAD_MIRROR``) that is not a URL urllib can fetch,
    before anything is fetched: urllib would raise a bare ``ValueError`` at the first archive."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    if not mirror:
        return
    try:
        parts = urllib.parse.urlsplit(mirror)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as err:
        why = str(err)
    else:
        if parts.scheme not in MIRROR_SCHEMES:
            why = f"scheme {parts.scheme!r} is not one of {', '.join(MIRROR_SCHEMES)}"
        elif parts.scheme != "file" and not parts.hostname:
            why = "no host name"
        else:
            return
    raise DownloadError(
        f"mirror {mirror!r} (--mirror or ${MIRROR_ENV}) is not a URL to download from: {why}; "
        "give a base URL such as https://example.org/dcase/"
    )


def archive_url(archive: Archive, mirror: str | None = None) -> str:
    """Where to fetch ``archive``: its URL, or its file name under the ``mirror`` base URL."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    if not mirror:
        return archive.url
    return mirror.rstrip("/") + "/" + urllib.parse.quote(archive.name)


def _state(to: Path) -> Path:
    return to / STATE_DIR


def _marker(to: Path, archive: Archive) -> Path:
    return _state(to) / f"{archive.name}.done"


def _recorded(to: Path) -> dict[str, str]:
    path = _state(to) / CHECKSUMS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise DownloadError(f"{path}: not valid JSON ({err}); restore it or remove it") from None
    return data if isinstance(data, dict) else {}


def _record(to: Path, archive: Archive, sha256: str) -> None:
    data = _recorded(to)
    data[archive.name] = sha256
    write_json(_state(to) / CHECKSUMS_FILE, data)


def _is_done(to: Path, dataset: DataSet, archive: Archive) -> bool:
    """Downloaded, verified and unpacked: the marker is there and so is what the archive unpacked to."""
    marker = _marker(to, archive)
    if not marker.is_file():
        return False
    try:
        top = json.loads(marker.read_text()).get("top", [])
    except (ValueError, AttributeError):
        return False
    target = to / dataset.extract_into
    return all((target / t).exists() for t in top)


def _no_space(where: Path, what: str) -> DownloadError:
    return DownloadError(
        f"no space left on the device of {where} (or its quota is used up) while {what}; free some space "
        "and run the command again (a download continues where it stopped)"
    )


# -- fetching -------------------------------------------------------------------------------------


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"User-Agent": "mtlsed-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 (https or a chosen mirror)


def _network_error(url: str, part: Path, err: BaseException) -> DownloadError:
    have = part.stat().st_size if part.is_file() else 0
    kept = f"; {human_size(have)} kept in {part}" if have else ""
    reason = getattr(err, "reason", None) or err or type(err).__name__
    return DownloadError(
        f"{url}: download failed ({reason}){kept}; run the command again to continue where it stopped"
    )


def _content_start(response) -> int | None:
    """The first byte a 206 answer holds, from ``Content-Range: bytes START-END/TOTAL``."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _start(url: str, part: Path, size: int | None, log: Callable) -> tuple[object, int]:
    """Open ``url`` continuing ``part``: ``(response, offset)``; a server that does not resume restarts."""
    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size:  # longer than the archive: not a prefix of it
        offset = 0
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
        response, offset = _open(url, 0), 0  # the range is past the end: start again
    if offset and (response.status != 206 or _content_start(response) != offset):
        log(f"{part.name}: the server did not continue at byte {offset}; downloading it again from the start")
        if response.status == 206:  # another range than asked: ask for the whole file
            response.close()
            response = _open(url, 0)
        offset = 0
    return response, offset


def fetch(url: str, dest: Path, size: int | None = None, show: bool = False, log: Callable = print) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, continuing a partial file; returns ``dest``."""
    part = dest.with_name(dest.name + ".part")
    if size is not None and part.is_file() and part.stat().st_size == size:
        return part.replace(dest)
    try:
        response, offset = _start(url, part, size, log)
    except (OSError, http.client.HTTPException) as err:
        raise _network_error(url, part, err) from None
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else size
    try:
        with (
            response,
            part.open("ab" if offset else "wb") as fh,
            tqdm(
                total=total, initial=offset, disable=not show, unit="B", unit_scale=True, desc=dest.name
            ) as bar,
        ):
            if total is not None:  # the size the server announces (FSDKaggle2018's are not published)
                ensure_free(part.parent, total - offset, f"downloading {dest.name}")
            while chunk := response.read(CHUNK):
                fh.write(chunk)
                bar.update(len(chunk))
    except OSError as err:
        if err.errno in FULL:
            raise _no_space(dest.parent, f"downloading {dest.name}") from None
        raise _network_error(url, part, err) from None
    except http.client.HTTPException as err:
        raise _network_error(url, part, err) from None
    got = part.stat().st_size
    if total is not None and got != total:
        raise _network_error(url, part, ConnectionError(f"stopped at {got} of {total} bytes"))
    return part.replace(dest)


# -- verifying and unpacking ----------------------------------------------------------------------


def digests(path: Path) -> tuple[str, str]:
    """``(md5, sha256)`` of a file, in one pass."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _set_aside(path: Path) -> Path:
    aside = path.with_name(path.name + ".corrupt")
    path.replace(aside)
    return aside


def _refuse(path: Path, archive: Archive, what: str, expected: str, got: str) -> ChecksumError:
    aside = _set_aside(path)
    return ChecksumError(
        f"{archive.name}: {what} mismatch: expected {expected}, got {got}; not unpacked. The file was moved "
        f"to {aside}; run the command again to download it afresh"
    )


def _damaged_member(path: Path) -> str | None:
    """The first member of the zip at ``path`` whose data fails its CRC (or cannot be read), else None."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except Exception as err:  # BadZipFile, zlib.error, EOFError...: a damaged archive all the same
        return f"unreadable ({type(err).__name__}: {err})"
    return f"{bad} damaged" if bad else None


def verify(to: Path, archive: Archive, path: Path) -> str:
    """Check ``path`` against the published size and MD5 (or the sha256 recorded at its first download).

    Returns how it was verified; a mismatch sets the file aside as ``.corrupt`` and raises
    :class:`ChecksumError`. With no checksum to compare, a file that is not a zip archive (an error page)
    is refused and a zip's sha256 is recorded.
    """
    got_size = path.stat().st_size
    if archive.size is not None and got_size != archive.size:
        raise _refuse(path, archive, "size", f"{archive.size} bytes", f"{got_size} bytes")
    md5, sha = digests(path)
    if archive.md5:
        if md5 != archive.md5.lower():
            raise _refuse(path, archive, "MD5", archive.md5, md5)
        return "md5 verified"
    recorded = _recorded(to).get(archive.name)
    if recorded is None:
        # nothing published to compare with: the archive must at least be whole (every member's CRC)
        # before its sha256 becomes the reference that later downloads are held to
        if not zipfile.is_zipfile(path):
            raise _refuse(path, archive, "format", "a zip archive", "something else")
        bad = _damaged_member(path)
        if bad:
            raise _refuse(path, archive, "zip integrity", "every member's CRC intact", bad)
        _record(to, archive, sha)
        return f"{NO_CHECKSUM} (sha256 {sha[:16]}...)"
    if sha != recorded:
        err = _refuse(path, archive, "sha256 (recorded at its first download)", recorded, sha)
        where = _state(to) / CHECKSUMS_FILE
        raise ChecksumError(f"{err} (if the archive was republished, remove its entry from {where})")
    return "sha256 verified (recorded at first download)"


def _unsafe(name: str, target: Path) -> bool:
    """A member name that is absolute, climbs with ``..`` or otherwise resolves outside ``target``."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and pure.parts[0].endswith(":")):
        return True
    root = target.resolve()
    return not (root / pure).resolve().is_relative_to(root)


def unpack(path: Path, target: Path, archive: Archive) -> list[str]:
    """Unpack the zip ``path`` into ``target`` after checking every member; returns its top-level names."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            bad = [m.filename for m in members if _unsafe(m.filename, target)]
            if bad:
                raise DownloadError(
                    f"{archive.name}: member {bad[0]!r} would be written outside {target}; refused, "
                    "nothing unpacked"
                )
            target.mkdir(parents=True, exist_ok=True)
            need = sum(m.file_size for m in members)
            free = free_bytes(target)
            if need > free:
                raise DownloadError(
                    f"{archive.name}: unpacking needs {human_size(need)} in {target}, "
                    f"{human_size(free)} free; free some space and run the command again"
                )
            for member in members:
                zf.extract(member, target)
    except zipfile.BadZipFile as err:
        message = f"{archive.name}: not a readable zip archive ({err}); remove {path} and run again"
        raise DownloadError(message) from None
    except OSError as err:  # a full disk, or a file where the archive has a folder (NotADirectoryError)
        if err.errno in FULL:
            raise _no_space(target, f"unpacking {archive.name}") from None
        where = err.filename or target
        raise DownloadError(
            f"{archive.name}: cannot unpack into {target}: {where}: {err.strerror or err}; move away what is "
            "in the way (or choose another --to) and run the command again"
        ) from None
    return sorted({PurePosixPath(m.filename).parts[0] for m in members if m.filename.strip("/")})


# -- the command ----------------------------------------------------------------------------------


def _check_space(to: Path, todo: list[Archive], keep: bool, log: Callable) -> None:
    """Refuse when the archives left cannot fit; warn when unpacking them probably will not."""
    left = 0
    for a in todo:
        if a.size is None or (_state(to) / a.name).is_file():
            continue
        part = _state(to) / f"{a.name}.part"
        left += a.size - (part.stat().st_size if part.is_file() else 0)
    free = free_bytes(to)
    if left > free:
        raise DownloadError(
            f"not enough space in {to}: the archives still to download need {human_size(left)}, "
            f"{human_size(free)} free"
        )
    sizes = [a.size for a in todo if a.size]
    about = (2 * sum(sizes)) if keep else (sum(sizes) + max(sizes, default=0))
    if about > free:
        log(f"warning: downloading and unpacking need about {human_size(about)}, {to} has {human_size(free)}")


def _get(to: Path, dataset: DataSet, archive: Archive, mirror: str | None, log, show: bool, keep: bool):
    start = time.monotonic()
    path = _state(to) / archive.name
    if not path.is_file():
        fetch(archive_url(archive, mirror), path, archive.size, show, log)
    size = path.stat().st_size
    how = verify(to, archive, path)
    target = to / dataset.extract_into
    top = unpack(path, target, archive)
    record = {
        "archive": archive.name,
        "bytes": size,
        "verified": how,
        "unpacked_into": str(target),
        "top": top,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(_marker(to, archive), record)
    if not keep:
        path.unlink()
    log(f"{archive.name}: {human_size(size)} in {time.monotonic() - start:.1f} s, {how}, unpacked")


def download(
    name: str,
    to: str | Path,
    parts: list[str] | None = None,
    mirror: str | None = None,
    log: Callable[[str], object] = print,
    progress: bool | None = None,
    keep_archives: bool = False,
    registry: dict[str, DataSet] | None = None,
) -> Path:
    """Download, verify and unpack data set ``name`` under ``to``; returns the folder mix-dcase2018 reads.

    ``parts``: archive names or part ids (None: all; ``meta`` is always fetched). ``mirror``: a base URL
    serving the archives by file name (default ``$MTLSED_DOWNLOAD_MIRROR``). ``progress``: a tqdm bar
    while fetching (default: when stderr is a terminal); one line per archive is logged either way.
    ``registry``: other entries than :data:`REGISTRY` (tests, a private mirror of other archives).
    """
    dataset = get_set(name, registry)
    chosen = select_archives(dataset, parts)
    check_mirror(mirror)
    to = Path(to)
    try:
        _state(to).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(f"{to}: cannot write there ({err.strerror})") from None
    show = sys.stderr.isatty() if progress is None else bool(progress)
    todo = []
    for archive in chosen:
        if _is_done(to, dataset, archive):
            log(f"{archive.name}: already downloaded, verified and unpacked")
        else:
            todo.append(archive)
    _check_space(to, todo, keep_archives, log)
    for archive in todo:
        _get(to, dataset, archive, mirror, log, show, keep_archives)
    root = to / dataset.root
    log(f"{dataset.name}: ready in {root} (pass it as `mtlsed mix-dcase2018 {dataset.option} {root}`)")
    return root


def _state_of(to: Path, dataset: DataSet, archive: Archive) -> str:
    state = _state(to)
    if _is_done(to, dataset, archive):
        return "unpacked"
    if (state / archive.name).is_file():
        return "downloaded, not yet verified and unpacked"
    part = state / f"{archive.name}.part"
    if part.is_file():
        return f"partial: {human_size(part.stat().st_size)} of {human_size(archive.size)}"
    if (state / f"{archive.name}.corrupt").is_file():
        return "a corrupt copy set aside; not downloaded"
    return "not downloaded"


def listing(name: str, to: str | Path, registry: dict[str, DataSet] | None = None) -> list[dict[str, str]]:
    """One row per archive of set ``name``: archive, part, size, checksum, state in ``to``."""
    dataset = get_set(name, registry)
    to = Path(to)
    recorded = _recorded(to) if _state(to).is_dir() else {}
    rows = []
    for a in dataset.archives:
        if a.md5:
            checksum = f"md5 {a.md5}"
        elif a.name in recorded:
            checksum = f"{NO_CHECKSUM} (sha256 {recorded[a.name][:16]}...)"
        else:
            checksum = NO_CHECKSUM
        rows.append(
            {
                "archive": a.name,
                "part": a.part,
                "size": human_size(a.size),
                "checksum": checksum,
                "state": _state_of(to, dataset, a),
            }
        )
    return rows


def format_listing(name: str, to: str | Path, registry: dict[str, DataSet] | None = None) -> str:
    """:func:`listing` as the text ``mtlsed download NAME --list`` prints."""
    dataset = get_set(name, registry)
    rows = listing(name, to, registry)
    sizes = [a.size for a in dataset.archives]
    known = [s for s in sizes if s is not None]
    total = human_size(sum(known)) if known else ""
    if len(known) < len(sizes):
        total += (" + " if known else "") + "sizes not published"
    head = [
        f"{dataset.name}: {dataset.title}",
        f"  {dataset.page}; {len(rows)} archives, {total}; unpacks to {Path(to) / dataset.root} "
        f"(mtlsed mix-dcase2018 {dataset.option})",
    ]
    cols = ["part", "archive", "size", "state", "checksum"]
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols[:-1]}
    lines = ["  " + "  ".join(c.ljust(width.get(c, 0)) for c in cols).rstrip()]
    for r in rows:
        lines.append("  " + "  ".join(r[c].ljust(width.get(c, 0)) for c in cols).rstrip())
    return "\n".join(head + lines)
