"""Faults of the disk and of foreign files, through the real command line (#32): a disk too small, full
mid-write or read-only, a malformed download mirror, an archive that cannot be unpacked where it goes, and
DCASE 2018 metadata that ``mix-dcase2018`` cannot use. Each ends in one message that names the path (and
what is needed), a non-zero exit and no traceback; where a rerun can finish the work, it does.

The commands run in this process (``mtlsed.cli.main.main``) so that the disk can be faked: free space by
a mocked ``shutil.disk_usage`` (no small file system can be mounted without root), a full disk by an
``OSError(ENOSPC)`` raised from a write, a read-only mount by ``OSError(EROFS)`` from an ``open``.
"""

import builtins
import contextlib
import errno
import hashlib
import io
import os
import re
import shutil
import subprocess
import zipfile
from collections import namedtuple
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import source_folder
from test_adapters import make_fsd, make_tut

import mtlsed.data.download as download_module
from mtlsed.runs.runfolder import RunFolder

FAST = ["train.iterations=4", "train.eval_every=2", "train.batch_size=4"]
Usage = namedtuple("Usage", "total used free")


def _mtlsed(*args) -> subprocess.CompletedProcess:
    """``mtlsed ARGS`` in this process; an exception the command does not turn into a message is
    written out as a traceback, which every test refuses."""
    import traceback

    from mtlsed.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except Exception:  # what reached the user as a traceback
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def _refused(done, *pieces: str) -> str:
    """Exit 2 with one message holding every piece, and no traceback; the message."""
    said = done.stdout + done.stderr
    assert "Traceback" not in said, said[-3000:]
    assert done.returncode == 2, said[-3000:]
    for piece in pieces:
        assert piece in said, f"{piece!r} not in {said[-3000:]}"
    return said


def _free_under(monkeypatch, folder: Path, free: int) -> None:
    """``shutil.disk_usage`` says ``free`` bytes for ``folder`` and what is in it; the truth elsewhere."""
    real = shutil.disk_usage

    def disk_usage(path):
        if Path(path).resolve().is_relative_to(folder.resolve()):
            return Usage(10**12, 10**12 - free, free)
        return real(path)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


def _copy(small_set: Path, to: Path) -> Path:
    shutil.copytree(small_set, to, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    return to


# -- the feature cache -------------------------------------------------------------------------------


def test_features_on_a_disk_too_small_refuse_with_a_message_then_build(small_set, tmp_path, monkeypatch):
    """The cache is a memory map: on a disk too small it used to die by SIGBUS, silently. Now the space it
    needs is checked and reserved first; with space freed the same command builds it."""
    data = _copy(small_set, tmp_path / "set")
    _free_under(monkeypatch, data, 999)
    said = _refused(_mtlsed("features", data, "--profile", "ci"), "the feature cache needs", "999 B free")
    assert re.search(rf"in {re.escape(str(data / 'features'))}/\S+\.partial", said), said
    monkeypatch.undo()
    done = _mtlsed("features", data, "--profile", "ci")
    assert done.returncode == 0 and "feature cache" in done.stdout, done.stderr[-3000:]


def test_a_cache_file_is_reserved_whole(tmp_path):
    """The reservation allocates every block: no hole is left for a memory map to fault on."""
    from mtlsed.core.diskspace import reserve

    path = tmp_path / "sparse.bin"
    with path.open("wb") as fh:
        fh.truncate(4 << 20)
    assert path.stat().st_blocks * 512 < 4 << 20
    reserve(path, "a test file")
    assert path.stat().st_blocks * 512 >= 4 << 20


# -- checkpoints and the run's lock ------------------------------------------------------------------


def test_a_disk_that_fills_up_while_training_is_a_message_and_the_run_resumes(
    small_set, tmp_path, monkeypatch
):
    """ENOSPC at the second checkpoint (iteration 4): one message naming the checkpoint; after space is
    freed, ``--resume`` continues from iteration 2 and finishes."""
    data, run = _copy(small_set, tmp_path / "set"), tmp_path / "run"
    write_bytes = Path.write_bytes

    def full_at_iteration_4(self, data_bytes):
        if re.fullmatch(r"\.last\.pt\.\d+\.tmp", self.name) and RunFolder(run).has_checkpoint("last"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write() raises it: no file name
        return write_bytes(self, data_bytes)

    monkeypatch.setattr(Path, "write_bytes", full_at_iteration_4)
    command = ["train", data, "--out", run, "--profile", "ci", "--set", *FAST]
    _refused(
        _mtlsed(*command),
        f"cannot write {run / 'last.pt'}: no space left on the device",
        "run the command again",
    )
    assert RunFolder(run).checkpoint_info("last")["iteration"] == 2
    monkeypatch.undo()
    done = _mtlsed(*command, "--resume")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert RunFolder(run).checkpoint_info("last")["iteration"] == 4


def test_a_checkpoint_that_cannot_fit_is_refused_before_it_is_written(tmp_path, monkeypatch):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    _free_under(monkeypatch, run.path, 10)
    from mtlsed.core.diskspace import DiskSpaceError

    with pytest.raises(
        DiskSpaceError, match=rf"checkpoint last\.pt needs .* in {re.escape(str(run.path))}, 10 B free"
    ):
        run.save_checkpoint("last", {"iteration": 1, "weights": list(range(100))})
    assert sorted(p.name for p in run.path.iterdir()) == []


def test_a_read_only_mount_at_the_runs_lock_is_a_message(small_set, tmp_path, monkeypatch):
    import mtlsed.core.locks as locks

    run = tmp_path / "run"

    def read_only(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(locks, "open", read_only, raising=False)  # the run's lock: mtlsed.core.locks.held
    done = _mtlsed("train", small_set, "--out", run, "--profile", "ci", "--set", *FAST)
    _refused(done, f"cannot write {run / '.lock'}: it is on a read-only file system", "writable folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder whatever its mode says")
def test_a_read_only_folder_is_a_message(small_set, tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        done = _mtlsed("train", small_set, "--out", parent / "run", "--profile", "ci", "--set", *FAST)
    finally:
        parent.chmod(0o755)
    _refused(done, f"cannot write {parent / 'run'}")


# -- import --copy -----------------------------------------------------------------------------------


def test_import_copy_checks_the_space_first(small_set, tmp_path, monkeypatch):
    src, out = source_folder(small_set, tmp_path), tmp_path / "out"
    _free_under(monkeypatch, out, 5000)
    _refused(
        _mtlsed("import", src, out, "--copy"),
        "copying 40 audio file(s) needs",
        f"in {out / 'audio'}, 5 kB free",
    )
    assert not any((out / "audio").iterdir())


def test_a_disk_full_during_import_copy_is_a_message_and_the_rerun_finishes(small_set, tmp_path, monkeypatch):
    """The copy cut short leaves no half file behind (it was taken for a clash with the source)."""
    import mtlsed.data.importer as importer

    src, out = source_folder(small_set, tmp_path), tmp_path / "out"
    copied = []

    def copy_until_full(source, target):
        if len(copied) == 3:
            Path(target).write_bytes(
                Path(source).read_bytes()[:1000]
            )  # the part written before the disk filled
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        copied.append(source)
        return shutil.copy2(source, target)

    monkeypatch.setattr(importer.shutil, "copy2", copy_until_full)
    _refused(
        _mtlsed("import", src, out, "--copy"),
        f"cannot write {out / 'audio'}/",
        "no space left",
        "run the command again",
    )
    monkeypatch.undo()
    done = _mtlsed("import", src, out, "--copy")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    for wav in (src / "audio").iterdir():
        assert (out / "audio" / wav.name).read_bytes() == wav.read_bytes()


# -- downloads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mirror", ["not a url", "http://[::1", "ftp//example.org", "http://host:port/"])
def test_a_malformed_mirror_is_refused(tmp_path, mirror):
    _refused(
        _mtlsed("download", "tut2018-dev", "--to", tmp_path, "--mirror", mirror),
        f"mirror {mirror!r}",
        "base URL",
    )
    assert not any(tmp_path.iterdir())


def _served_archive(tmp_path: Path, monkeypatch, size: bool = True) -> str:
    """``tut2018-dev`` as one small zip (``top/sub/a.txt``) served from a ``file://`` mirror; the mirror."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("top/sub/a.txt", "hello" * 1000)
    served = tmp_path / "mirror"
    served.mkdir()
    (served / "set.zip").write_bytes(buf.getvalue())
    tut = download_module.TUT2018_DEV
    md5 = hashlib.md5(buf.getvalue()).hexdigest()
    entry = replace(tut.archives[0], name="set.zip", size=len(buf.getvalue()) if size else None, md5=md5)
    registry = {**download_module.REGISTRY, "tut2018-dev": replace(tut, archives=(entry,), always=())}
    monkeypatch.setattr(download_module, "REGISTRY", registry)
    return served.as_uri()


def test_an_archive_that_meets_a_file_where_it_has_a_folder_is_a_message(tmp_path, monkeypatch):
    """``NotADirectoryError`` while unpacking: the message names the archive and the path in the way."""
    mirror = _served_archive(tmp_path, monkeypatch)
    to = tmp_path / "to"
    to.mkdir()
    (to / "top").write_text("a file, where the archive has a folder")
    done = _mtlsed("download", "tut2018-dev", "--to", to, "--mirror", mirror)
    _refused(done, f"set.zip: cannot unpack into {to}", str(to / "top"), "run the command again")


def test_a_download_of_unpublished_size_checks_the_space_the_server_announces(tmp_path, monkeypatch):
    """No size published: the Content-Length the server sends is checked before the archive is written;
    with space freed the same command downloads and unpacks it."""
    mirror = _served_archive(tmp_path, monkeypatch, size=False)
    to, real = tmp_path / "to", shutil.disk_usage
    _free_under(monkeypatch, to, 100)
    done = _mtlsed("download", "tut2018-dev", "--to", to, "--mirror", mirror)
    _refused(done, "downloading set.zip needs", f"in {to / '.mtlsed-download'}, 100 B free")
    monkeypatch.setattr(shutil, "disk_usage", real)
    done = _mtlsed("download", "tut2018-dev", "--to", to, "--mirror", mirror)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (to / "top" / "sub" / "a.txt").read_text() == "hello" * 1000


# -- mix-dcase2018 -----------------------------------------------------------------------------------


def _mix(fsd: Path, tut: Path, out: Path):
    return _mtlsed(
        "mix-dcase2018", "--events", fsd, "--backgrounds", tut, out, "--clips", "20", "--sr", "8000"
    )


def test_mix_dcase2018_names_the_line_of_a_byte_that_is_not_utf8(tmp_path):
    fsd, tut = make_fsd(tmp_path / "fsd"), make_tut(tmp_path / "tut")
    csv = fsd / "train.csv"
    lines = csv.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"Bark", b"B\xe9rk")  # Latin-1, as a spreadsheet may save it
    csv.write_bytes(b"\n".join(lines))
    _refused(_mix(fsd, tut, tmp_path / "out"), f"{csv}:3: byte 0xe9 is not UTF-8")


def test_mix_dcase2018_refuses_too_few_event_files_saying_how_many(tmp_path):
    fsd, tut = make_fsd(tmp_path / "fsd", per_class=2), make_tut(tmp_path / "tut")
    _refused(
        _mix(fsd, tut, tmp_path / "out"),
        str(fsd / "train.csv"),
        "'Bark': 2",
        "needs at least 3 per class",
        "--all-labels",
    )


def test_mix_dcase2018_refuses_a_single_class(tmp_path):
    fsd, tut = make_fsd(tmp_path / "fsd"), make_tut(tmp_path / "tut")
    csv = fsd / "train.csv"
    csv.write_text(
        "".join(
            line + "\n"
            for line in csv.read_text().splitlines()
            if "Cello" not in line and "Knock" not in line
        )
    )
    _refused(_mix(fsd, tut, tmp_path / "out"), f"{csv}: 1 class(es)", "(Bark)", "needs at least 2")


def test_mix_dcase2018_refuses_too_few_backgrounds(tmp_path):
    fsd, tut = make_fsd(tmp_path / "fsd"), make_tut(tmp_path / "tut", n=2, folds=False)
    _refused(
        _mix(fsd, tut, tmp_path / "out"),
        str(tut / "meta.csv"),
        "2 background file(s) found",
        "needs at least 3",
    )
