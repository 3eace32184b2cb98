"""``mtlsed download``: tiny archives in the real FSDKaggle2018 and TUT 2018 layouts served from 127.0.0.1.

The server (a real HTTP server in a thread) answers ``Range`` requests and can be told to cut a response
half-way, as a killed download would; the archives are served under their real file names through the
``mirror`` option, with the real registry entries (FSDKaggle2018: no published checksum) or copies whose
MD5s and sizes are the test archives'.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import urllib.parse
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from mtlsed.core.errors import UserError
from mtlsed.data.download import (
    FSD2018,
    MIRROR_ENV,
    NO_CHECKSUM,
    REGISTRY,
    STATE_DIR,
    TUT2018_DEV,
    ChecksumError,
    DownloadError,
    download,
    format_listing,
    listing,
)

TUT = "TUT-urban-acoustic-scenes-2018-development"
FSD_CLASSES = ["Bark", "Cello", "Knock"]

# -- the archives ---------------------------------------------------------------------------------


def _wav(y: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _zip(files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for d in dirs:
            zf.writestr(zipfile.ZipInfo(d.rstrip("/") + "/"), b"")
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _fsd_archives() -> dict[str, bytes]:
    """FSDKaggle2018's Zenodo archives: 3 classes of 3 short 44.1 kHz tones, the Zenodo metadata columns."""
    audio, rows = {}, ["fname,label,manually_verified,freesound_id,license"]
    for c, label in enumerate(FSD_CLASSES):
        for j in range(3):
            name = f"{c:02d}{j}a1b2c3.wav"
            t = np.arange(int(44100 * (0.6 + 0.2 * j))) / 44100
            audio[f"FSDKaggle2018.audio_train/{name}"] = _wav(
                0.3 * np.sin(2 * np.pi * 300 * (c + 1) * t), 44100
            )
            rows.append(f"{name},{label},1,{1000 + 3 * c + j},Attribution")
    meta = {"FSDKaggle2018.meta/train_post_competition.csv": ("\n".join(rows) + "\n").encode()}
    doc = {"FSDKaggle2018.doc/README.md": b"FSDKaggle2018 (test copy)\n"}
    return {
        "FSDKaggle2018.audio_train.zip": _zip(audio, ("FSDKaggle2018.audio_train",)),
        "FSDKaggle2018.meta.zip": _zip(meta, ("FSDKaggle2018.meta",)),
        "FSDKaggle2018.doc.zip": _zip(doc, ("FSDKaggle2018.doc",)),
    }


def _tut_archives() -> dict[str, bytes]:
    """TUT 2018 development: 4 recordings (10 s, 48 kHz, stereo, low noise) over two audio archives + meta."""
    rng = np.random.default_rng(0)
    names = [f"audio/{scene}-barcelona-{i}-{i}-a.wav" for i, scene in enumerate(["airport", "park"] * 2)]
    audio = {n: _wav(0.01 * rng.standard_normal((480000, 2)), 48000) for n in names}
    meta_rows = ["filename\tscene_label\tidentifier\tsource_label"]
    meta_rows += [f"{n}\t{n.split('/')[1].split('-')[0]}\tbarcelona-{i}\ta" for i, n in enumerate(names)]
    train = [n for i, n in enumerate(names) if i != 1]
    meta = {
        f"{TUT}/meta.csv": ("\n".join(meta_rows) + "\n").encode(),
        f"{TUT}/evaluation_setup/fold1_train.txt": "".join(f"{n}\tscene\n" for n in train).encode(),
        f"{TUT}/evaluation_setup/fold1_evaluate.txt": f"{names[1]}\tpark\n".encode(),
    }
    return {
        f"{TUT}.doc.zip": _zip({f"{TUT}/README.md": b"TUT Urban Acoustic Scenes 2018 (test copy)\n"}),
        f"{TUT}.meta.zip": _zip(meta),
        f"{TUT}.audio.1.zip": _zip({f"{TUT}/{n}": audio[n] for n in names[:2]}),
        f"{TUT}.audio.2.zip": _zip({f"{TUT}/{n}": audio[n] for n in names[2:]}),
    }


@pytest.fixture(scope="module")
def archives() -> dict[str, bytes]:
    return {**_fsd_archives(), **_tut_archives()}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _as_served(dataset, served: dict[str, bytes], size: bool = True):
    """``dataset`` cut to the test archives, with their MD5s (and sizes) in place of the published ones."""
    archives = tuple(
        replace(a, size=len(served[a.name]) if size else None, md5=_md5(served[a.name]))
        for a in dataset.archives
        if a.name in served
    )
    return replace(dataset, archives=archives)


def _registry(served: dict[str, bytes]) -> dict:
    """The real registry, its TUT and FSDKaggle2018 entries cut to the test archives with their MD5s."""
    return {
        **REGISTRY,
        "tut2018-dev": _as_served(TUT2018_DEV, served),
        "fsd2018": _as_served(FSD2018, served, size=False),
    }


def _unpublished(served: dict[str, bytes]) -> dict:
    """A registry whose FSDKaggle2018 entry publishes no checksum: the sha256 recorded at first download."""
    fsd = replace(FSD2018, archives=tuple(replace(a, md5=None) for a in FSD2018.archives))
    return {**_registry(served), "fsd2018": fsd}


# -- the server -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        srv: ArchiveServer = self.server  # type: ignore[assignment]
        name = urllib.parse.unquote(self.path.split("?")[0].rsplit("/", 1)[-1])
        if self.path.startswith("/record/"):  # as zenodo.org/record/N/files/X -> /records/N/files/X
            self.send_response(301)
            self.send_header("Location", "/files/" + urllib.parse.quote(name))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        asked = self.headers.get("Range")
        srv.requests.append((name, asked))
        data = srv.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = int(asked.removeprefix("bytes=").split("-")[0]) if asked and srv.ranges else 0
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in srv.cut:  # a killed download: half the body, then the connection drops
            srv.cut.discard(name)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class ArchiveServer(ThreadingHTTPServer):
    """Serves ``files`` by name under ``/files/``; ``cut`` names are cut half-way once."""

    daemon_threads = True

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = dict(files)
        self.cut: set[str] = set()
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/files/"

    def asked_for(self) -> list[str]:
        return [name for name, _ in self.requests]


@pytest.fixture
def server(archives):
    srv = ArchiveServer(archives)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _get(name, to, server, archives, **kw):
    lines: list[str] = []
    root = download(
        name, to, mirror=server.url, log=lines.append, progress=False, registry=_registry(archives), **kw
    )
    return root, lines


# -- the real registry ----------------------------------------------------------------------------


def test_real_registry_is_well_formed():
    tut = REGISTRY["tut2018-dev"]
    audio = [a for a in tut.archives if ".audio." in a.name]
    assert [a.part for a in audio] == [str(i) for i in range(1, 14)]
    assert {a.part for a in tut.archives} == {*map(str, range(1, 14)), "doc", "meta"}
    assert sum(a.size for a in audio) == 21353091893  # about 21.4 GB
    for dataset in (TUT2018_DEV, FSD2018):
        assert dataset.root and dataset.option in ("--events", "--backgrounds")
        for a in dataset.archives:
            # Zenodo's current form (the old /record/ redirects)
            assert a.url.startswith("https://zenodo.org/records/") and a.url.endswith("/" + a.name)
            assert a.size is None or a.size > 0
            assert a.md5 is None or re.fullmatch(r"[0-9a-f]{32}", a.md5)
    assert all(a.size and a.md5 for a in tut.archives)
    assert [a.part for a in FSD2018.archives] == ["doc", "meta", "audio_train"]
    assert all(a.md5 for a in FSD2018.archives)  # verified before anything is recorded or unpacked
    assert REGISTRY["desed"].message and not REGISTRY["desed"].archives


def test_unknown_names_and_desed_are_refused(tmp_path):
    with pytest.raises(UserError, match=r"unknown data set 'tut2019'; known: tut2018-dev, fsd2018, desed"):
        download("tut2019", tmp_path)
    with pytest.raises(DownloadError, match=r"desed: .*YouTube.*mtlsed import-desed DESED OUT"):
        download("desed", tmp_path)
    with pytest.raises(DownloadError, match="YouTube"):
        listing("desed", tmp_path)
    with pytest.raises(DownloadError, match=r"unknown part '14'; parts are doc, meta, 1, 2, .*13"):
        download("tut2018-dev", tmp_path, parts=["14"])
    assert not (tmp_path / STATE_DIR).exists()  # refused before anything was written


# -- downloading ----------------------------------------------------------------------------------


def test_fresh_download_unpacks_the_backgrounds_layout_then_skips(tmp_path, server, archives):
    root, lines = _get("tut2018-dev", tmp_path / "d", server, archives)
    assert root == tmp_path / "d" / TUT
    assert (root / "meta.csv").is_file() and (root / "evaluation_setup" / "fold1_train.txt").is_file()
    assert len(list((root / "audio").glob("*.wav"))) == 4
    info = sf.info(str(next((root / "audio").glob("*.wav"))))
    assert (info.samplerate, info.channels, info.frames) == (48000, 2, 480000)
    state = tmp_path / "d" / STATE_DIR
    names = [a.name for a in _registry(archives)["tut2018-dev"].archives]
    assert sorted(p.name for p in state.iterdir()) == sorted(f"{n}.done" for n in names)  # archives removed
    per_archive = [
        line for line in lines if re.match(r".*\.zip: .* in [0-9.]+ s, md5 verified, unpacked$", line)
    ]
    assert len(per_archive) == 4 and f"--backgrounds {root}" in lines[-1]
    seen = len(server.requests)
    _, again = _get("tut2018-dev", tmp_path / "d", server, archives)
    assert len(server.requests) == seen  # nothing fetched again
    assert sum("already downloaded, verified and unpacked" in line for line in again) == 4


def test_a_cut_download_continues_with_a_range_request(tmp_path, server, archives):
    name = f"{TUT}.audio.1.zip"
    server.cut.add(name)
    to = tmp_path / "d"
    with pytest.raises(DownloadError, match=rf"{re.escape(name)}: download failed .*run the command again"):
        _get("tut2018-dev", to, server, archives, keep_archives=True)
    part = to / STATE_DIR / f"{name}.part"
    assert 0 < part.stat().st_size < len(archives[name])
    assert not (to / TUT / "audio").exists() or len(list((to / TUT / "audio").iterdir())) == 0
    assert (
        "partial" in {r["archive"]: r["state"] for r in listing("tut2018-dev", to, _registry(archives))}[name]
    )
    have = part.stat().st_size
    _get("tut2018-dev", to, server, archives, keep_archives=True)
    ranges = [asked for n, asked in server.requests if n == name]
    assert ranges == [None, f"bytes={have}-"]
    assert (to / STATE_DIR / name).read_bytes() == archives[name] and not part.exists()
    assert len(list((to / TUT / "audio").glob("*.wav"))) == 4


def test_a_server_that_does_not_resume_restarts_the_archive(tmp_path, server, archives):
    name = f"{TUT}.audio.2.zip"
    server.cut.add(name)
    to = tmp_path / "d"
    with pytest.raises(DownloadError):
        _get("tut2018-dev", to, server, archives, keep_archives=True)
    server.ranges = False
    _, lines = _get("tut2018-dev", to, server, archives, keep_archives=True)
    assert any("did not continue" in line for line in lines)
    assert (to / STATE_DIR / name).read_bytes() == archives[name]


def test_a_corrupt_archive_is_set_aside_and_not_unpacked(tmp_path, server, archives):
    name = f"{TUT}.audio.2.zip"
    bad = bytearray(archives[name])
    bad[len(bad) // 2] ^= 0xFF
    server.files[name] = bytes(bad)
    to = tmp_path / "d"
    expected, got = _md5(archives[name]), _md5(bytes(bad))
    with pytest.raises(
        ChecksumError, match=rf"{re.escape(name)}: MD5 mismatch: expected {expected}, got {got}"
    ):
        _get("tut2018-dev", to, server, archives)
    assert (to / STATE_DIR / f"{name}.corrupt").read_bytes() == bytes(bad)
    assert not (to / STATE_DIR / f"{name}.done").exists()
    assert sorted(p.name for p in (to / TUT / "audio").iterdir()) == [
        "airport-barcelona-0-0-a.wav",
        "park-barcelona-1-1-a.wav",
    ]  # part 1 only
    state = {r["archive"]: r["state"] for r in listing("tut2018-dev", to, _registry(archives))}
    assert state[name] == "a corrupt copy set aside; not downloaded"
    server.files[name] = archives[name]  # the mirror is fixed: a rerun gets it
    _get("tut2018-dev", to, server, archives)
    assert len(list((to / TUT / "audio").glob("*.wav"))) == 4


def test_parts_fetch_only_what_is_asked_and_always_meta(tmp_path, server, archives):
    to = tmp_path / "d"
    registry = _registry(archives)
    before = listing("tut2018-dev", to, registry)
    assert [r["part"] for r in before] == ["doc", "meta", "1", "2"]
    assert {r["state"] for r in before} == {"not downloaded"}
    assert before[2]["checksum"] == f"md5 {_md5(archives[f'{TUT}.audio.1.zip'])}"
    _get("tut2018-dev", to, server, archives, parts=["2"])
    assert sorted(server.asked_for()) == [f"{TUT}.audio.2.zip", f"{TUT}.meta.zip"]
    after = {r["part"]: r["state"] for r in listing("tut2018-dev", to, registry)}
    assert after == {"doc": "not downloaded", "meta": "unpacked", "1": "not downloaded", "2": "unpacked"}
    _get("tut2018-dev", to, server, archives, parts=[f"{TUT}.audio.1.zip"])  # a name works as well
    assert server.asked_for()[-1] == f"{TUT}.audio.1.zip" and len(server.requests) == 3
    text = format_listing("tut2018-dev", to, registry)
    assert f"unpacks to {to / TUT} (mtlsed mix-dcase2018 --backgrounds)" in text
    assert re.search(
        r"\n  1 +TUT-urban-acoustic-scenes-2018-development\.audio\.1\.zip +[0-9.]+ MB +unpacked", text
    )


def test_fsd2018_real_entry_refuses_an_archive_that_is_not_the_published_one(tmp_path, server, monkeypatch):
    """The real registry entry, reached through the env mirror: the test archive served under the real name
    is not Zenodo's, so its MD5 is refused; nothing is recorded or unpacked, the file is set aside."""
    monkeypatch.setenv(MIRROR_ENV, server.url)
    to = tmp_path / "d"
    assert {r["checksum"] for r in listing("fsd2018", to)} == {f"md5 {a.md5}" for a in FSD2018.archives}
    with pytest.raises(ChecksumError, match=r"FSDKaggle2018\.doc\.zip: MD5 mismatch: expected 4f2d1ac8"):
        download("fsd2018", to, log=lambda _: None, progress=False)
    assert (to / STATE_DIR / "FSDKaggle2018.doc.zip.corrupt").is_file()
    assert not (to / STATE_DIR / "checksums.json").exists() and not (to / "FSDKaggle2018").exists()


def test_a_damaged_zip_without_a_published_checksum_is_refused_before_it_is_recorded(
    tmp_path, server, archives
):
    """A zip whose member fails its CRC: refused, its sha256 not recorded; the good archive served next is
    then accepted (before, the damaged one's sha256 became the reference and the good one was refused)."""
    name = "FSDKaggle2018.meta.zip"
    good = archives[name]
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        info = zf.infolist()[-1]
    # a byte in the middle of the member's compressed data flipped: the zip's directory is intact
    at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size // 2
    server.files = {**archives, name: good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :]}
    to, registry = tmp_path / "d", _unpublished(archives)
    expected = "zip integrity mismatch: expected every member's CRC intact, got "
    with pytest.raises(ChecksumError, match=re.escape(expected)):
        download("fsd2018", to, ["meta"], server.url, lambda _: None, False, registry=registry)
    assert not (to / STATE_DIR / "checksums.json").exists()
    server.files[name] = good
    download("fsd2018", to, ["meta"], server.url, lambda _: None, False, registry=registry)
    assert hashlib.sha256(good).hexdigest() in (to / STATE_DIR / "checksums.json").read_text()


def test_fsd2018_without_published_checksums_records_them_then_holds_to_them(tmp_path, server, archives):
    to, registry = tmp_path / "d", _unpublished(archives)

    def listing_(*a):
        return listing(*a, registry)

    def download_(*a, **kw):
        return download(*a, mirror=server.url, registry=registry, **kw)

    assert {r["checksum"] for r in listing_("fsd2018", to)} == {NO_CHECKSUM}
    lines: list[str] = []
    root = download_("fsd2018", to, log=lines.append, progress=False)
    assert root == to / "FSDKaggle2018" and f"--events {root}" in lines[-1]
    assert (root / "FSDKaggle2018.meta" / "train_post_competition.csv").is_file()
    assert len(list((root / "FSDKaggle2018.audio_train").glob("*.wav"))) == 9
    assert (root / "FSDKaggle2018.doc" / "README.md").is_file()
    assert sum(NO_CHECKSUM in line for line in lines) == 3
    recorded = (to / STATE_DIR / "checksums.json").read_text()
    for name in ("FSDKaggle2018.audio_train.zip", "FSDKaggle2018.meta.zip", "FSDKaggle2018.doc.zip"):
        assert hashlib.sha256(archives[name]).hexdigest() in recorded
    rows = listing_("fsd2018", to)
    assert all(r["state"] == "unpacked" and r["checksum"].startswith(NO_CHECKSUM + " (sha256 ") for r in rows)

    name = "FSDKaggle2018.meta.zip"  # the served file changes; the unpacked copy is gone
    server.files[name] = _zip({"FSDKaggle2018.meta/train_post_competition.csv": b"fname,label\n"})
    (to / STATE_DIR / f"{name}.done").unlink()
    with pytest.raises(
        ChecksumError, match=rf"{re.escape(name)}: sha256 \(recorded at its first download\) mis"
    ):
        download_("fsd2018", to, log=lines.append, progress=False)
    assert (to / STATE_DIR / f"{name}.corrupt").is_file()
    assert b"Bark" in (root / "FSDKaggle2018.meta" / "train_post_competition.csv").read_bytes()  # untouched


def test_a_redirect_keeps_the_range_header(tmp_path, server, archives):
    name = f"{TUT}.meta.zip"
    server.cut.add(name)
    to, redirected = tmp_path / "d", server.url.replace("/files/", "/record/1228142/files/")
    with pytest.raises(DownloadError):
        download("tut2018-dev", to, ["meta"], redirected, lambda _: None, False, registry=_registry(archives))
    have = (to / STATE_DIR / f"{name}.part").stat().st_size
    download("tut2018-dev", to, ["meta"], redirected, lambda _: None, False, registry=_registry(archives))
    assert server.requests == [(name, None), (name, f"bytes={have}-")]
    assert (to / TUT / "meta.csv").is_file()


@pytest.mark.parametrize("evil_name", [f"{TUT}/../../evil.txt", "/evil.txt"])
def test_an_archive_escaping_its_folder_is_refused(tmp_path, server, archives, evil_name):
    name = f"{TUT}.doc.zip"
    evil = _zip({f"{TUT}/README.md": b"ok\n", evil_name: b"gotcha\n"})
    served = {**archives, name: evil}
    server.files[name] = evil
    to = tmp_path / "d" / "sets"
    with pytest.raises(DownloadError, match=rf"member '{re.escape(evil_name)}' would be written outside"):
        download(
            "tut2018-dev",
            to,
            parts=["doc"],
            mirror=server.url,
            log=lambda _: None,
            registry=_registry(served),
        )
    assert not list(tmp_path.rglob("evil.txt")) and not (to / TUT / "README.md").exists()
    assert not (to / STATE_DIR / f"{name}.done").exists()


def test_network_errors_name_the_url_and_space_is_checked_first(tmp_path, server, archives):
    registry = _registry(archives)
    with pytest.raises(
        DownloadError, match=r"http://127\.0\.0\.1:1/TUT.*\.doc\.zip: download failed \(.*refused\).*again"
    ):
        download("tut2018-dev", tmp_path, mirror="http://127.0.0.1:1/", log=lambda _: None, registry=registry)
    server.files.pop(f"{TUT}.meta.zip")
    with pytest.raises(DownloadError, match=r"meta\.zip: HTTP 404"):
        download("tut2018-dev", tmp_path, mirror=server.url, log=lambda _: None, registry=registry)
    huge = replace(registry["tut2018-dev"].archives[0], size=10**18)
    registry["tut2018-dev"] = replace(registry["tut2018-dev"], archives=(huge,))
    seen = len(server.requests)
    with pytest.raises(DownloadError, match=r"not enough space in .*need 1000000 TB"):
        download("tut2018-dev", tmp_path / "new", mirror=server.url, log=lambda _: None, registry=registry)
    assert len(server.requests) == seen


# -- the paper's set from the downloaded folders --------------------------------------------------


def test_mix_the_overlapped_set_from_the_downloaded_folders(tmp_path, server, archives):
    from mtlsed.data.build import BuildSpec, build_dataset
    from mtlsed.data.dcase2018 import dcase2018_sources
    from mtlsed.data.format import read_dataset, validate

    events, _ = _get("fsd2018", tmp_path / "d", server, archives)
    backgrounds, _ = _get("tut2018-dev", tmp_path / "d", server, archives)
    sources, classes, report = dcase2018_sources(events, backgrounds, sr=16000, seed=0)
    assert classes == FSD_CLASSES and not report.skipped
    assert [p.name for p in sources["test"][1].paths] == ["park-barcelona-1-1-a.wav"]  # TUT's fold 1
    spec = BuildSpec("overlapped", 6, 0, 16000, 10.0, 0.2, 0.2, "dcase2018")  # val: 0.2 of 5 = 1 clip
    out = build_dataset(tmp_path / "overlapped", spec, sources=sources, classes=classes, workers=1)
    assert validate(out) == []
    index = read_dataset(out)
    assert len(index.weak) == 6 and all(len(labels) == 2 for labels in index.weak.values())


def test_the_paper_protocol_on_the_downloaded_layout(tmp_path, server, archives):
    """Sec. 4.2 on the downloaded folders: two events of different classes per clip, each in a 4-s window
    that starts at 3 s (its active part inside [3, 7] s), each 20 dB over a TUT background."""
    from mtlsed.data.dcase2018 import dcase2018_sources
    from mtlsed.data.mix import mix_overlapped

    events, _ = _get("fsd2018", tmp_path / "d", server, archives)
    backgrounds, _ = _get("tut2018-dev", tmp_path / "d", server, archives)
    sources, _, _ = dcase2018_sources(events, backgrounds, sr=16000, seed=0)
    for seed in range(6):
        m = mix_overlapped(np.random.default_rng(seed), *sources["train"], 16000)
        assert len(m.audio) == 10 * 16000
        labels = [e.label for e in m.events]
        assert len(labels) == 2 and len(set(labels)) == 2
        bg = float(np.sqrt(np.mean(m.background.astype(np.float64) ** 2)))
        for e in m.events:
            assert 3.0 - 0.011 <= e.onset < e.offset <= 7.0 + 0.011
            assert not np.any(e.audio[: 3 * 16000]) and not np.any(e.audio[7 * 16000 :])
            part = e.audio[int(round(e.onset * 16000)) : int(round(e.offset * 16000))].astype(np.float64)
            assert 20 * np.log10(np.sqrt(np.mean(part**2)) / bg) == pytest.approx(20.0, abs=0.2)


def test_download_list_mix_and_check_through_the_command_line(tmp_path, server, archives):
    """The real commands: `download` (through a mirror, FSDKaggle2018's real registry entry), `--list`,
    then `mix-dcase2018` on what it unpacked and `check` on the mixed set."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, MTLSED_DOWNLOAD_MIRROR=server.url, PYTHONWARNINGS="ignore")

    def mtlsed(*args):
        return subprocess.run(
            [sys.executable, "-m", "mtlsed", *map(str, args)], capture_output=True, text=True, env=env
        )

    to = tmp_path / "dl"
    listed = mtlsed("download", "fsd2018", "--to", to, "--list")
    assert (
        listed.returncode == 0
        and "FSDKaggle2018.meta.zip" in listed.stdout
        and "not downloaded" in listed.stdout
    )
    # the test archives are not Zenodo's: the real entry refuses them by their published MD5, in one message
    refused = mtlsed("download", "fsd2018", "--to", to)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert (
        "FSDKaggle2018.doc.zip: MD5 mismatch" in refused.stderr and "run the command again" in refused.stderr
    )
    _get("fsd2018", to, server, archives)  # the entries with the test archives' checksums
    listed = mtlsed("download", "fsd2018", "--to", to, "--list")
    assert "FSDKaggle2018.audio_train.zip" in listed.stdout
    _get("tut2018-dev", to, server, archives)
    out = tmp_path / "overlapped"
    tut = to / "TUT-urban-acoustic-scenes-2018-development"
    mixed = mtlsed(
        "mix-dcase2018", "--events", to / "FSDKaggle2018", "--backgrounds", tut, out,
        "--clips", "10", "--sr", "16000", "--workers", "1",
    )  # fmt: skip
    assert mixed.returncode == 0, mixed.stderr[-2000:]
    check = mtlsed("check", out)
    assert check.returncode == 0 and "no problems found" in check.stdout
    bad = mtlsed("download", "tut2018-dev", "--to", tmp_path / "x", "--parts", "14")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "14" in bad.stderr
