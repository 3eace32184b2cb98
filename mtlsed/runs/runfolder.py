"""The one owner of a run folder: what is in it, who may write it, and whether what it holds is whole.

A run folder holds::

    config.yaml        the full configuration
    identity.json      what the run is: config, data content, code (``mtlsed.runs.identity``);
                       ``data_path`` says where the data was (outside the digest: where, not what)
    classes.txt        the class order of the outputs
    clips.tsv          the clips the run learnt from and chose on (train and val), with their audio's sha256:
                       ``evaluate`` refuses a split that shares audio with them
    log.csv            one row every ``train.eval_every`` iterations
    last.pt, best.pt   checkpoints; ``checkpoints.json`` holds each one's sha256 and iteration, so a damaged
                       file is named instead of loaded
    scores_<split>.npz, events_<split>.tsv, metrics_<split>.json
                       an evaluation: written as one unit, ``metrics_<split>.json`` last, holding the
                       sha256 of the other two and of the checkpoint it scored; a kill in between leaves a
                       unit that :meth:`RunFolder.metrics` does not accept
    .lock              held by the process writing the folder (``train``, ``evaluate``)

Train, evaluate, the grids, the notebooks and the results page read and write these files through
:class:`RunFolder` only, and ask :func:`is_finished` whether a run is done.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mtlsed.core.atomic import atomic_path, write_json, write_text
from mtlsed.core.diskspace import ensure_free
from mtlsed.core.errors import ConfigError, UserError
from mtlsed.core.hashing import file_sha256
from mtlsed.core.locks import Busy, held, is_held
from mtlsed.core.vocabulary import LOSS_TERMS

LOG_COLUMNS = [
    "iteration",
    "epoch",
    "lr",
    "loss",
    *LOSS_TERMS,
    "val_loss",
    "val_at_map",
    "val_sed_map",
    "seconds",
]
CHECKPOINTS = ("best", "last")


class RunDamaged(UserError):
    """A file of a run folder cannot be trusted; the message names it and says what to do."""


class RunLocked(Busy):
    """Another process is writing the run folder."""


# -- the folder --------------------------------------------------------------------------


class RunFolder:
    """A run folder (see the module docstring). Reading checks integrity; writing is atomic."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @contextmanager
    def writing(self, command: str) -> Iterator[None]:
        """Hold the folder's lock while ``command`` writes it (re-entrant in one process).

        The first holder removes the temporary files a killed writer left (``.NAME.PID.tmp``): with the lock
        held, no other process is writing them.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        outermost = not is_held(self.path / ".lock")
        with held(self.path / ".lock", command, busy=RunLocked):
            if outermost:
                for leftover in self.path.glob(".*.tmp*"):
                    leftover.unlink(missing_ok=True)
            yield

    # -- what the run is ------------------------------------------------------------------

    def _json(self, name: str) -> dict | None:
        path = self.file(name)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise RunDamaged(
                f"{path} is damaged ({err}); the run cannot be trusted: train it again into a new folder "
                f"(or delete {self.path})"
            ) from None
        if not isinstance(data, dict):
            raise RunDamaged(f"{path} is damaged (not a JSON object); train the run again into a new folder")
        return data

    def identity(self) -> dict | None:
        """``identity.json`` (None when absent); damaged: :class:`RunDamaged`."""
        data = self._json("identity.json")
        if data is not None and not isinstance(data.get("digest"), str):
            raise RunDamaged(f"{self.file('identity.json')} is damaged (no digest); train the run again")
        return data

    def config(self):
        """The run's :class:`~mtlsed.config.settings.Config`; a damaged ``config.yaml`` is named."""
        from mtlsed.config.settings import Config

        path = self.file("config.yaml")
        if not path.is_file():
            raise UserError(f"{path}: not found; {self.path} is not a run folder (mtlsed train makes one)")
        try:
            return Config.load(path)
        except ConfigError as err:
            raise RunDamaged(f"{err}; {path} is damaged: train the run again into a new folder") from None

    def classes(self) -> list[str]:
        path = self.file("classes.txt")
        if not path.is_file():
            raise RunDamaged(f"{path}: missing; the run is incomplete: train it again")
        try:
            classes = [c.strip() for c in path.read_text(encoding="utf-8").splitlines() if c.strip()]
        except UnicodeDecodeError as err:
            raise RunDamaged(f"{path} is damaged ({err}); train the run again") from None
        if not classes:
            raise RunDamaged(f"{path}: empty, no classes; the run is damaged: train it again")
        return classes

    def data_path(self) -> Path:
        """The data set the run was trained on (``identity.json``'s ``data_path``)."""
        if not self.file("config.yaml").is_file():
            raise UserError(f"{self.path}: not a run folder (no config.yaml; `mtlsed train --out` makes one)")
        identity = self.identity() or {}
        recorded = identity.get("data_path")
        if not recorded:
            raise UserError(f"{self.path}: the run does not record its data set; give it with --data DIR")
        if not Path(recorded).is_dir():
            raise UserError(
                f"{self.path} was trained on {recorded}, which is gone; give the data with --data DIR"
            )
        return Path(recorded)

    def start(self, cfg, identity: dict, classes: list[str], data_path: Path, clips: dict) -> None:
        """Write what a run is before it trains: config, identity, classes and the clips it learns from.

        ``clips``: ``{split: {filename: audio sha256}}`` of the train and val splits.
        """
        cfg.save(self.file("config.yaml"))
        write_json(self.file("identity.json"), {**identity, "data_path": str(data_path)})
        write_text(self.file("classes.txt"), "".join(c + "\n" for c in classes))
        rows = "".join(
            f"{name}\t{split}\t{sha}\n" for split, hashes in clips.items() for name, sha in hashes.items()
        )
        write_text(self.file("clips.tsv"), "filename\tsplit\tsha256\n" + rows)

    def clips(self) -> dict[str, dict[str, str]]:
        """``{split: {filename: sha256}}`` the run learnt from (``clips.tsv``, written as the run starts)."""
        path = self.file("clips.tsv")
        if not path.is_file():
            raise RunDamaged(f"{path}: missing; the run cannot be trusted: train it again into a new folder")
        out: dict[str, dict[str, str]] = {}
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[1:], start=2):
            fields = line.split("\t")
            if len(fields) != 3:
                raise RunDamaged(f"{path}:{number}: damaged line {line!r}; train the run again")
            out.setdefault(fields[1], {})[fields[0]] = fields[2]
        return out

    # -- checkpoints -------------------------------------------------------------------------

    def has_checkpoint(self, which: str) -> bool:
        return self.file(f"{which}.pt").is_file()

    def _checkpoint_index(self) -> dict:
        return self._json("checkpoints.json") or {}

    def save_checkpoint(self, which: str, state: dict) -> None:
        """Write ``which.pt`` atomically and record its sha256 and iteration in ``checkpoints.json``;
        a disk without room for it is refused before anything is written.

        The index is written before the file is renamed into place and keeps the previous entry, so
        a kill between the two leaves an index that knows whichever file is there.
        """
        import torch

        buf = io.BytesIO()
        torch.save(state, buf)
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        target = self.file(f"{which}.pt")
        ensure_free(self.path, len(data), f"checkpoint {which}.pt")
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
            index = self._checkpoint_index()
            known = index.get(f"{which}.pt", {})
            current = file_sha256(target) if target.is_file() else None
            kept = {s: v for s, v in known.items() if s == current}
            index[f"{which}.pt"] = {**kept, sha: {"iteration": int(state.get("iteration", 0))}}
            write_json(self.file("checkpoints.json"), index)

    def checkpoint_info(self, which: str) -> dict:
        """``{"sha256", "iteration"}`` of ``which.pt`` as it is on disk, checked against the index."""
        path = self.file(f"{which}.pt")
        if not path.is_file():
            raise UserError(f"{path}: no checkpoint ({self._why_no_checkpoint(which)})")
        sha = file_sha256(path)
        known = self._checkpoint_index().get(f"{which}.pt")
        if known is None:
            raise RunDamaged(_damaged_checkpoint(path, which, "checkpoints.json records no checksum of it"))
        if sha not in known:
            raise RunDamaged(_damaged_checkpoint(path, which, "its checksum does not match the one recorded"))
        return {"sha256": sha, **known[sha]}

    def load_checkpoint(self, which: str) -> dict:
        """The state saved in ``which.pt``, checked, on the CPU; a damaged file is named with what to do.

        Always to the CPU: ``torch.set_rng_state`` takes only a CPU byte tensor (a checkpoint mapped to
        CUDA breaks every resume on a GPU), and ``load_state_dict`` copies weights to the model's device.
        """
        import torch

        self.checkpoint_info(which)  # the file on disk is the one recorded, else RunDamaged
        path = self.file(f"{which}.pt")
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # torch raises many types for a truncated or garbled file
            raise RunDamaged(_damaged_checkpoint(path, which, f"{type(err).__name__}: {err}")) from None
        if not isinstance(state, dict) or "model" not in state:
            raise RunDamaged(_damaged_checkpoint(path, which, "it holds no model"))
        return state

    # -- the training log ---------------------------------------------------------------------

    def _why_no_checkpoint(self, which: str) -> str:
        """Why ``which.pt`` is absent, as far as ``log.csv`` tells: a run whose every validation metric was
        undefined (NaN) never had a best checkpoint, however long it trained."""
        try:
            rows = self.read_log()
        except UserError:
            rows = []
        if which != "best" or not rows or not self.has_checkpoint("last"):
            return "has the run finished its first evaluation?"
        try:
            metric = self.config().train.best_metric
        except UserError:
            metric = "auto"
        # auto picks by SED-mAP where validation has strong labels, else by AT-mAP; AT-mAP undefined means
        # no validation clip has a label at all
        columns = ["val_at_map", "val_sed_map"] if metric == "auto" else [f"val_{metric}"]
        for column in columns:
            if all(r.get(column, "").strip().lower() in ("nan", "") for r in rows):
                return (
                    f"{column} was undefined (NaN) at all {len(rows)} evaluations in log.csv, so no "
                    "checkpoint was ever the best: the validation split has no positive (`mtlsed check` "
                    "says so). Evaluate --checkpoint last, or train again with --set train.best_metric=loss"
                )
        return "has the run finished its first evaluation?"

    def read_log(self, upto: int | None = None) -> list[dict]:
        path = self.file("log.csv")
        if not path.is_file():
            return []
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            return [r for r in rows if upto is None or int(r["iteration"]) <= upto]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            raise RunDamaged(f"{path} is damaged ({err}); train the run again into a new folder") from None

    def write_log(self, rows: list[dict]) -> None:
        with atomic_path(self.file("log.csv")) as tmp, tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    # -- evaluations: scores, events and metrics as one unit -------------------------------------

    # ``split`` names an evaluation: ``test``, ``val``, or ``test-eq-seed0`` for the test clips through a
    # shifted channel (``mtlsed evaluate --shifts``); the clean files keep their names

    def scores_path(self, split: str) -> Path:
        return self.file(f"scores_{split}.npz")

    def events_path(self, split: str) -> Path:
        return self.file(f"events_{split}.tsv")

    def metrics_path(self, split: str) -> Path:
        return self.file(f"metrics_{split}.json")

    def write_evaluation(self, split: str, scores, events_rows: list[list[str]], metrics: dict) -> dict:
        """Write a split's scores, events and metrics as one unit; returns the metrics as written.

        The old metrics file goes first (no moment holds new scores beside old metrics), the metrics
        file comes last and holds the sha256 of the other two: :meth:`metrics` accepts it only when
        they match.
        """
        from mtlsed.core.textio import write_tsv

        self.metrics_path(split).unlink(missing_ok=True)
        scores.save(self.scores_path(split))
        write_tsv(self.events_path(split), ["filename", "onset", "offset", "event_label"], events_rows)
        unit = {
            "scores": file_sha256(self.scores_path(split)),
            "events": file_sha256(self.events_path(split)),
        }
        metrics = {**metrics, "unit": unit}
        write_json(self.metrics_path(split), metrics)
        return metrics

    def metrics(self, split: str = "test", check: bool = True) -> dict | None:
        """``metrics_<split>.json`` when it is whole: present, readable, its scores and events files the
        ones it was written with, and its checkpoint the one on disk now. None when absent or not whole."""
        path = self.metrics_path(split)
        if not path.is_file():
            return None
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not check:
            return metrics
        unit = metrics.get("unit", {})
        for part, file in (("scores", self.scores_path(split)), ("events", self.events_path(split))):
            if not file.is_file() or unit.get(part) != file_sha256(file):
                return None
        ckpt = metrics.get("checkpoint_sha256")
        if ckpt is not None:
            which = metrics.get("checkpoint", "best")
            path_ckpt = self.file(f"{which}.pt")
            if not path_ckpt.is_file() or file_sha256(path_ckpt) != ckpt:
                return None
        return metrics

    def require_metrics(self, split: str = "test") -> dict:
        """:meth:`metrics`, or an error that says why there are none and what to do."""
        metrics = self.metrics(split)
        if metrics is None:
            what = "missing" if not self.metrics_path(split).is_file() else "not whole (scores, events or "
            what += "" if what == "missing" else "checkpoint changed since, or the file is damaged)"
            raise UserError(
                f"{self.metrics_path(split)}: {what}; run `mtlsed evaluate {self.path} --split {split}`"
            )
        return metrics


def _damaged_checkpoint(path: Path, which: str, why: str) -> str:
    todo = (
        "evaluate the last checkpoint instead (--checkpoint last) or train the run again"
        if which == "best"
        else "it cannot be resumed from: train again into a new folder, or delete the folder to start over"
    )
    return f"{path} is damaged ({why}); {todo}"


def is_finished(run: str | Path | RunFolder, data_fp: dict | None = None, expected: str | None = None):
    """The test metrics of a finished run, or None.

    Finished: ``identity.json`` readable (and its digest ``expected`` when given), its training done
    (the last checkpoint at ``train.iterations``), and ``metrics_test.json`` whole (see
    :meth:`RunFolder.metrics`) of its best checkpoint, written for this run by the evaluation code of now
    (:func:`mtlsed.runs.identity.evaluation_fingerprint`) and, when ``data_fp`` is given, for that data.
    """
    from mtlsed.runs.identity import evaluation_fingerprint

    run = run if isinstance(run, RunFolder) else RunFolder(run)
    identity = run.identity()
    if identity is None or (expected is not None and identity["digest"] != expected):
        return None
    metrics = run.metrics("test")
    if metrics is None or metrics.get("run_fingerprint") != identity["digest"]:
        return None
    if metrics.get("evaluation_code") != evaluation_fingerprint():
        return None
    if metrics.get("checkpoint", "best") != "best":  # a look at `--checkpoint last` is not the run's result
        return None
    if data_fp is not None and metrics.get("data_fingerprint") != data_fp["digest"]:
        return None
    iterations = identity.get("config", {}).get("train", {}).get("iterations")
    trained = metrics.get("trained_iterations")
    if trained is not None and iterations is not None and trained < iterations:
        return None
    return metrics
