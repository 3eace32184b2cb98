"""Write a mixed data set to disk in the one dataset format, resumably.

Clip ``i`` is drawn from its own generator seeded with ``(seed, i)``, so a set is
the same whatever the number of worker processes, and an interrupted build
resumes: finished clips are recorded one per line in ``.progress.jsonl`` as they
are written and are not made again; the TSV files appear only once every clip
is there.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mtlsed.core.atomic import write_json
from mtlsed.core.events import Event
from mtlsed.core.procs import die_with_parent
from mtlsed.data.audio import write_audio
from mtlsed.data.format import SPLITS, write_dataset_index
from mtlsed.data.mix import RECIPES, mix
from mtlsed.data.splits import MIXED_VAL_FRACTION, TEST_FRACTION, split_sizes
from mtlsed.data.synthetic import SyntheticBackgrounds, SyntheticEvents


@dataclass
class BuildSpec:
    """Everything that determines a mixed data set (saved as ``recipe.json``)."""

    recipe: str
    n_clips: int
    seed: int
    sr: int
    clip_seconds: float = 10.0
    val_fraction: float = MIXED_VAL_FRACTION  # of the clips that are not test clips
    test_fraction: float = TEST_FRACTION
    source: str = "embedded"

    def split_of(self) -> list[str]:
        """The split of each clip index: a seeded permutation cut by ``split_sizes``."""
        sizes = split_sizes(self.n_clips, self.val_fraction, self.test_fraction)
        n_test, n_val = sizes["test"], sizes["val"]
        order = np.random.default_rng([self.seed, 2**31 - 1]).permutation(self.n_clips)
        split = ["train"] * self.n_clips
        for j, i in enumerate(order):
            split[i] = "test" if j < n_test else ("val" if j < n_test + n_val else "train")
        return split


# Sources per split: split -> (events, backgrounds). The embedded set uses the
# same generators for every split (each clip is new sound anyway); file pools
# give each split its own recordings so that none is shared between splits.
Sources = dict[str, tuple[object, object]]


def embedded_sources(sr: int) -> Sources:
    pair = (SyntheticEvents(sr), SyntheticBackgrounds(sr))
    return {split: pair for split in SPLITS}


def clip_name(i: int) -> str:
    return f"clip_{i:05d}.wav"


_WORKER: dict = {}


def _init_worker(spec: BuildSpec, sources: Sources, audio_dir: str) -> None:
    _WORKER.update(spec=spec, sources=sources, audio_dir=Path(audio_dir), split=spec.split_of())


def _make_clip(i: int) -> dict:
    spec: BuildSpec = _WORKER["spec"]
    split = _WORKER["split"][i]
    events, backgrounds = _WORKER["sources"][split]
    m = mix(
        spec.recipe, np.random.default_rng([spec.seed, i]), events, backgrounds, spec.sr, spec.clip_seconds
    )
    name = clip_name(i)
    write_audio(_WORKER["audio_dir"] / name, m.audio, spec.sr)
    return {
        "i": i,
        "filename": name,
        "split": split,
        "events": [[e.label, round(e.onset, 3), round(e.offset, 3), round(e.snr_db, 2)] for e in m.events],
    }


def build_dataset(
    out: str | Path,
    spec: BuildSpec,
    sources: Sources | None = None,
    classes: list[str] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    force: bool = False,
) -> Path:
    """Mix ``spec.n_clips`` clips into ``out`` (resuming a build interrupted earlier).

    A folder that is not empty and holds no ``recipe.json`` of ours is refused, unless ``force``
    (then its ``audio/`` and label files are removed first). Worker processes die with this one.
    """
    if spec.recipe not in RECIPES:
        raise ValueError(f"unknown recipe {spec.recipe!r}; expected one of {RECIPES}")
    out = Path(out)
    recipe_path = out / "recipe.json"
    if out.is_dir() and any(out.iterdir()) and not recipe_path.is_file():  # someone else's folder
        if not force:
            raise FileExistsError(
                f"{out} is not empty and was not made by mtlsed; choose an empty or new folder, "
                "or pass --force to replace its audio/ and label files"
            )
        shutil.rmtree(out / "audio", ignore_errors=True)
        for name in ("weak.tsv", "strong.tsv", "classes.txt", "split.tsv", "dataset.json", ".progress.jsonl"):
            (out / name).unlink(missing_ok=True)
    audio_dir = out / "audio"
    try:
        audio_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # read-only, or a file where a folder would go
        raise FileExistsError(f"{out}: cannot write there ({err.strerror})") from None
    sources = sources or embedded_sources(spec.sr)
    classes = classes or list(sources["train"][0].classes)
    if recipe_path.is_file():
        try:
            old = json.loads(recipe_path.read_text())
        except ValueError:
            old = None  # cut by a kill before it was whole: an unfinished build
        finished = (out / "weak.tsv").is_file() and not (out / ".progress.jsonl").is_file()
        if old != asdict(spec) and finished:
            raise FileExistsError(
                f"{out} already holds a different data set ({recipe_path}: {old}); choose another folder"
            )
        if old != asdict(spec):  # an unfinished build of other settings (a failed run): start afresh
            shutil.rmtree(audio_dir, ignore_errors=True)
            (out / ".progress.jsonl").unlink(missing_ok=True)
            audio_dir.mkdir(parents=True)
            write_json(recipe_path, asdict(spec))
    else:
        write_json(recipe_path, asdict(spec))
    progress_path = out / ".progress.jsonl"
    done: dict[int, dict] = {}
    if progress_path.is_file():
        for line in progress_path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill: that clip is made again
                continue
            if (audio_dir / rec["filename"]).is_file():
                done[rec["i"]] = rec
    todo = [i for i in range(spec.n_clips) if i not in done]
    workers = workers or min(len(todo), os.cpu_count() or 1) or 1
    show = sys.stderr.isatty() if progress is None else progress
    with (
        progress_path.open("a") as log,
        tqdm(
            total=spec.n_clips, initial=len(done), disable=not show, desc=f"mixing {spec.recipe}", unit="clip"
        ) as bar,
    ):

        def record(rec: dict) -> None:
            log.write(json.dumps(rec) + "\n")
            log.flush()
            done[rec["i"]] = rec
            bar.update()

        if workers <= 1 or len(todo) < 8:
            _init_worker(spec, sources, str(audio_dir))
            for i in todo:
                record(_make_clip(i))
        else:
            with ProcessPoolExecutor(
                workers, initializer=_init_pool_worker, initargs=(spec, sources, str(audio_dir))
            ) as pool:
                for rec in pool.map(_make_clip, todo, chunksize=8):
                    record(rec)

    weak, strong, split = {}, {}, {}
    for i in range(spec.n_clips):
        rec = done[i]
        name = rec["filename"]
        labels = {ev[0] for ev in rec["events"]}
        weak[name] = [c for c in classes if c in labels]
        strong[name] = [Event(name, on, off, lab) for lab, on, off, _ in rec["events"]]
        split[name] = rec["split"]
    write_dataset_index(out, classes, weak, strong, split)
    progress_path.unlink()
    return out


def _init_pool_worker(*args) -> None:
    die_with_parent()
    _init_worker(*args)


def split_counts(split: dict[str, str]) -> dict[str, int]:
    return {s: sum(v == s for v in split.values()) for s in SPLITS}
