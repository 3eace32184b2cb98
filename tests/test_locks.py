"""The one lock (mtlsed.core.locks): a run folder's writer is refused while another holds it
(tests/test_runfolder.py); a feature cache's builder waits for it instead."""

import errno
import json
import os
import subprocess
import sys

import pytest

from mtlsed.core.locks import Busy, held, is_held

HOLDER = """
import sys, time
from pathlib import Path
from mtlsed.core.locks import held
with held(Path(sys.argv[1]), "features", wait=True):
    print("held", flush=True)
    time.sleep(1.0)
    Path(sys.argv[2]).write_text("done")  # the last thing it does with the lock held
"""


def test_a_waiter_gets_the_lock_once_its_holder_lets_go(tmp_path):
    path = tmp_path / "cache.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(tmp_path / "done")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=r"PID \d+ \(mtlsed features"):
            with held(path, "features"):  # without wait: refused, naming the holder
                pass
        with held(path, "features", wait=True):
            assert (tmp_path / "done").is_file()  # the holder had finished before this one got the lock
            assert is_held(path) and json.loads(path.read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()
    assert not path.exists() and not is_held(path)


def test_without_flock_a_waiter_takes_over_a_dead_holders_lock(tmp_path, monkeypatch):
    import fcntl

    def no_flock(*_):
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    path = tmp_path / "cache.lock"
    path.write_text(json.dumps({"pid": int(gone.stdout), "host": os.uname().nodename, "command": "features"}))
    with held(path, "features", wait=True):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()
