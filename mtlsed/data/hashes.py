"""The sha256 of a data set's audio files, remembered in ``DATA/.mtlsed/audio-sha256.tsv`` by file size and
modification time (as git's index does), so a second look at a large set reads no audio."""

from __future__ import annotations

from pathlib import Path

from mtlsed.core.hashing import file_sha256
from mtlsed.data.ours import OWN_DIR

HASH_CACHE = OWN_DIR / "audio-sha256.tsv"


def audio_hashes(root: Path, filenames: list[str], audio_dir: Path) -> dict[str, str]:
    """sha256 of every audio file, reusing remembered hashes whose size and mtime still match."""
    cache_path = root / HASH_CACHE
    known: dict[str, tuple[str, str]] = {}
    if cache_path.is_file():
        for line in cache_path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.rsplit("\t", 2)
            if len(parts) == 3 and len(parts[2]) == 64:  # a damaged line is hashed again, never trusted
                known[parts[0]] = (parts[1], parts[2])
    out, changed = {}, False
    for name in filenames:
        path = audio_dir / name
        st = path.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
        if name in known and known[name][0] == stamp:
            out[name] = known[name][1]
        else:
            out[name] = file_sha256(path)
            known[name] = (stamp, out[name])
            changed = True
    if changed:
        try:  # a read-only data set is hashed again next time, nothing more
            from mtlsed.core.atomic import write_text

            write_text(cache_path, "".join(f"{n}\t{s}\t{h}\n" for n, (s, h) in sorted(known.items())))
        except OSError:
            pass
    return out
