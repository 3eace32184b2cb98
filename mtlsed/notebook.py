"""What the notebooks share: checking papermill parameters, the run card, and the profile's data and run.

Notebook cells stay thin: they call these functions and show what comes back.
"""

from __future__ import annotations

import ast
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.config import Config, ConfigError
from mtlsed.envinfo import environment, hardware_line
from mtlsed.profiles import PROFILE_KEYS, Profile, load_profile

# librosa's lazy import of pooch pulls in tqdm.auto, which warns in a kernel without
# ipywidgets; our progress bars are off in notebooks, so the warning is noise.
warnings.filterwarnings("ignore", message="IProgress not found")

# The parameters every notebook takes: a profile, and what a reader changes in it.
NOTEBOOK_PARAMETERS = {"profile", "seeds", "n_clips", "overrides"}


class ParameterError(ValueError):
    """A papermill parameter is unknown or has the wrong type."""


def _injected_parameter_names() -> set[str]:
    """Names assigned by papermill's injected ``# Parameters`` cell, read from the kernel's input history."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return set()
    shell = get_ipython()
    if shell is None:
        return set()
    names: set[str] = set()
    for source in shell.user_ns.get("In", []):
        if source.lstrip().startswith("# Parameters"):
            for node in ast.parse(source).body:
                if isinstance(node, ast.Assign):
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


@dataclass
class Session:
    """The state of one notebook run: its profile (with the notebook's parameters applied), paths, start."""

    prof: Profile
    config: Config
    root: Path
    started: float = field(default_factory=time.perf_counter)

    @property
    def profile(self) -> str:
        return self.prof.name

    @property
    def description(self) -> str:
        return self.prof.params["description"]

    @property
    def n_clips(self) -> int:
        return self.prof.params["n_clips"]

    @property
    def seeds(self) -> list[int]:
        return self.prof.params["seeds"]

    @property
    def overrides(self) -> dict:
        return self.prof.overrides

    @property
    def run_overrides(self) -> dict:
        return self.prof.params["run_overrides"]

    @property
    def runs(self) -> Path:
        return self.root / "runs" / self.profile

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    def card(self) -> str:
        """Which profile, hardware and package versions produce this notebook's numbers."""
        env = environment()
        versions = ", ".join(f"{k} {env[k]}" for k in ("mtlsed", "torch", "numpy", "librosa", "sed_eval"))
        return (
            f"profile: {self.profile} ({self.description})\n"
            f"hardware: {hardware_line(env)}; device used: {self.device}\n"
            f"software: Python {env['python']}, {versions}"
        )

    @property
    def device(self) -> str:
        from mtlsed.train import pick_device

        return str(pick_device(self.config.train.device))

    def as_profile(self) -> Profile:
        """The profile these parameters make (what :func:`mtlsed.experiments.reproduce` runs)."""
        return self.prof

    def finish(self) -> str:
        return (
            f"wall time of this notebook: {time.perf_counter() - self.started:.0f} s (profile {self.profile})"
        )


def project_root() -> Path:
    """The checkout the notebook runs in (notebooks/ sits below it), else the working folder (Colab)."""
    here = Path.cwd()
    return here.parent if (here.parent / "params").is_dir() else here


def _yaml_text(value):
    """A parameter given as text (``-p seeds '[0, 1]'``) parsed as YAML; anything else as it is."""
    if isinstance(value, str):
        import yaml

        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def setup(
    profile: str = "ci",
    seeds=None,
    n_clips=None,
    overrides=None,
    root: str | Path | None = None,
) -> Session:
    """Load the profile, apply the notebook's parameters to it, check them, and start the session.

    ``profile`` is a profile name (``params/NAME.yaml``) or a profile file; ``seeds`` and ``n_clips``
    replace the profile's when given (rows outside the paired comparison take the first
    ``len(seeds_other_rows)`` of the new seeds); ``overrides`` adds config keys on top of the profile's.
    """
    unknown = _injected_parameter_names() - NOTEBOOK_PARAMETERS
    if unknown:
        hint = (
            "; pass a profile by name or path (-p profile cpu, -p profile my.yaml), not with -f"
            if unknown & set(PROFILE_KEYS)
            else "; configuration keys go inside 'overrides', e.g. -p overrides '{train.iterations: 100}'"
        )
        raise ParameterError(
            f"unknown notebook parameter(s) {sorted(unknown)}; "
            f"the notebooks take {sorted(NOTEBOOK_PARAMETERS)}" + hint
        )
    # papermill's -p passes text: read a list or a mapping given that way as YAML
    seeds, n_clips, overrides = (_yaml_text(v) for v in (seeds, n_clips, overrides))
    if not isinstance(profile, str | Path):
        raise ParameterError(f"parameter profile must be a profile name or file, got {profile!r}")
    try:
        loaded = load_profile(profile)
    except ConfigError as err:
        raise ParameterError(f"parameter profile: {err}") from None
    params = dict(loaded.params)
    if seeds is not None:
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
            raise ParameterError(f"parameter seeds must be a non-empty list of integers, got {seeds!r}")
        # the other rows keep their share of the seeds: the first ones of the new list
        params["seeds_other_rows"] = list(seeds[: len(params["seeds_other_rows"])])
        params["seeds"] = list(seeds)
    if n_clips is not None:
        if not isinstance(n_clips, int) or isinstance(n_clips, bool) or n_clips < 10:
            raise ParameterError(f"parameter n_clips must be an integer >= 10, got {n_clips!r}")
        params["n_clips"] = n_clips
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, dict):
        raise ParameterError(f"parameter overrides must be a mapping of config keys, got {overrides!r}")
    merged = {**loaded.overrides, **overrides}
    try:
        config = Config().with_overrides(merged)
    except ConfigError as err:
        raise ParameterError(f"parameter overrides: {err}") from None
    params["overrides"] = merged
    import pandas as pd

    pd.set_option("display.max_colwidth", 120)  # the notebooks' tables hold sentences
    return Session(
        Profile(loaded.name, params, loaded.path, merged), config, Path(root or project_root()).resolve()
    )


def profile_data(session: Session, recipe: str = "overlapped") -> Path:
    """The embedded data set of the session's size (mixed on first use, then reused)."""
    from mtlsed.data.build import BuildSpec, build_dataset

    sr = session.config.features.sample_rate
    out = session.data_root / f"{recipe}-{session.n_clips}clips-{sr}hz-seed0"
    if not (out / "weak.tsv").is_file():
        build_dataset(out, BuildSpec(recipe, session.n_clips, 0, sr), progress=False)
    return out


def profile_run(session: Session, data_dir: Path, name: str = "mtl_ddc_fap") -> Path:
    """The notebooks' main run: MTL-DDC-FAP (segment + silent, label-guided) trained once per setting.

    It uses the profile's ``overrides`` and then its ``run_overrides``, with the first seed. Without
    ``run_overrides`` it is exactly Table 1's ``segment_silent-label`` run of that seed, so it is
    trained into that row's folder of the Table 1 grid and chapter 5 finds it done (with a second
    core, Table 1's BCE run of the same seed trains beside it rather than leave it idle). Otherwise its
    folder is named by the run's fingerprint (config, data content, code). Either way a changed
    profile, data set or package trains a new run and never reuses a stale one.
    """
    from mtlsed.evaluate import metrics_path
    from mtlsed.experiments import (
        BASELINE,
        default_jobs,
        grid_dir,
        grid_key,
        run_grid,
        table_rows,
        train_and_evaluate,
    )
    from mtlsed.identity import data_fingerprint, run_fingerprint

    seed, root = session.seeds[0], str(Path(data_dir).resolve())
    config = session.config.with_overrides({**session.run_overrides, "train.seed": seed, "data.root": root})
    data_fp = data_fingerprint(data_dir)
    row = next(r for r in table_rows(1) if r.key == "segment_silent-label")
    as_in_table = session.config.with_overrides({**row.overrides, "train.seed": seed, "data.root": root})
    if as_in_table.to_dict() == config.to_dict():
        grid = grid_dir(session.profile, 1, session.root, grid_key(session.config, data_fp))
        run_dir = grid / row.key / f"seed{seed}"
        if not metrics_path(run_dir, "test").is_file() and default_jobs() > 1:
            # a second core would idle: train Table 1's BCE run of the same seed beside it
            bce = next(r for r in table_rows(1) if r.key == BASELINE)
            tasks = [
                (r, seed, session.config, Path(data_dir), grid / r.key / f"seed{seed}", data_fp)
                for r in (row, bce)
            ]
            run_grid(tasks, 2, log=lambda *_: None)
    else:
        key = run_fingerprint(config.to_dict(), data_fp)["digest"][:8]
        run_dir = session.runs / "notebook" / f"{name}-{key}"
    if not metrics_path(run_dir, "test").is_file():
        train_and_evaluate(config, data_dir, run_dir)
    return run_dir


@dataclass
class ClipView:
    """One test clip seen through a trained model."""

    filename: str
    audio: object  # (S,) waveform at the feature rate
    features: object  # (T, F) normalised log-mel
    clip: object  # (K,)
    frame: object  # (K, T)
    masks: object  # (K, T, F) or None
    events: list
    labels: list[str]
    times: object  # (T,) frame centres in seconds


def inspect_clip(run_dir: Path, data_dir: Path, i: int = 0, split: str = "test") -> ClipView:
    """Run the trained model of ``run_dir`` on clip ``i`` of a split and keep everything it gives."""
    import torch

    from mtlsed.audio import load_audio
    from mtlsed.data.dataset import SedDataset
    from mtlsed.train import load_run

    cfg, classes, model = load_run(run_dir, "best", "cpu")
    ds = SedDataset(data_dir, cfg, split)
    x, _, _ = ds[i]
    with torch.no_grad():
        out = model(x[None])
    name = ds.filenames[i]
    audio = load_audio(ds.index.audio_path(name), cfg.features.sample_rate, cfg.data.clip_seconds)
    return ClipView(
        name,
        audio,
        x.numpy(),
        out.clip[0].numpy(),
        out.frame[0].numpy(),
        None if out.masks is None else out.masks[0].numpy(),
        ds.index.strong.get(name, []) if ds.index.strong else [],
        ds.index.weak[name],
        ds.times,
    )


def model_batch(run_dir: Path, data_dir: Path, n: int = 8, split: str = "test"):
    """The trained model's output and the clip labels for the first ``n`` clips of a split."""
    import torch

    from mtlsed.data.dataset import SedDataset
    from mtlsed.train import load_run

    cfg, classes, model = load_run(run_dir, "best", "cpu")
    ds = SedDataset(data_dir, cfg, split)
    x = torch.stack([ds[i][0] for i in range(min(n, len(ds)))])
    with torch.no_grad():
        out = model(x)
    labels = torch.from_numpy(ds.clip_labels[: len(x)])
    return out, labels, classes, ds.filenames[: len(x)]


def selection_table(out, labels, classes: list[str], names: list[str], topks=(2, 3, 5)):
    """Per clip: its labels, the classes each top-k rule selects, and the segment loss of each rule."""
    import pandas as pd

    from mtlsed.losses import segment_loss, select_active

    rows = []
    for n, name in enumerate(names):
        row = {"clip": name, "labels": ", ".join(c for c, y in zip(classes, labels[n], strict=True) if y > 0)}
        rules = [("label-guided", "label", 0)] + [(f"top{k}", "topk", k) for k in topks]
        for tag, rule, k in rules:
            active = select_active(out.clip[n : n + 1], labels[n : n + 1], rule, k or 1)
            if rule == "topk":
                row[f"{tag} selects"] = ", ".join(c for c, a in zip(classes, active[0], strict=True) if a)
            row[f"segment {tag}"] = round(float(segment_loss(out.masks[n : n + 1], active)), 4)
        rows.append(row)
    return pd.DataFrame(rows).set_index("clip")


def per_seed_metrics(grid: Path, rows: list[str], metrics=("i", "d", "er")):
    """One line per (row, seed) of a finished grid with the chosen metrics from its metrics_test.json.

    Every seed a row has is read (the paired rows have more seeds than the others).
    """
    import json

    import pandas as pd

    lines = []
    for key in rows:
        for run in sorted((grid / key).glob("seed*"), key=lambda p: int(p.name[4:])):
            m = json.loads((run / "metrics_test.json").read_text())
            values = {name.upper(): m[name] for name in metrics}
            lines.append({"row": key, "seed": int(run.name[4:]), **values})
    return pd.DataFrame(lines)


def psds_by_class(runs: dict[str, Path], data_dir: Path, scenario: str = "psds1", split: str = "test"):
    """Each class's PSD-ROC area (rows) for each run (columns), from the runs' saved scores.

    ``runs`` maps a column label to a run folder holding ``scores_<split>.npz`` and
    ``config.yaml``; see :func:`mtlsed.metrics.psds_per_class`.
    """
    import pandas as pd

    from mtlsed.config import Config
    from mtlsed.data.format import read_dataset
    from mtlsed.metrics import Scores, merge_overlaps, psds_per_class

    index = read_dataset(data_dir)
    columns = {}
    for label, run in runs.items():
        scores = Scores.load(Path(run) / f"scores_{split}.npz")
        clip_seconds = Config.load(Path(run) / "config.yaml").data.clip_seconds
        reference = {n: merge_overlaps(index.strong[n]) for n in scores.filenames if index.has_strong(n)}
        columns[label] = psds_per_class(scores, reference, dict.fromkeys(reference, clip_seconds), scenario)
    return pd.DataFrame(columns)


def model_sizes(configs: dict, n_classes: int = 10, n_mels: int = 64, n_frames: int = 311):
    """Parameters and multiply-adds per clip of ``(n_frames, n_mels)`` for each labelled ``ModelConfig``."""
    import pandas as pd

    from mtlsed.models import build_model, model_summary

    rows = {}
    for label, model_cfg in configs.items():
        summary = model_summary(build_model(model_cfg, n_classes, n_mels), n_frames, n_mels)
        rows[label] = {"parameters": summary["params"], "GMAC per clip": round(summary["macs"] / 1e9, 3)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame


def profile_model_sizes(session: Session, names: list[str], n_classes: int = 10):
    """:func:`model_sizes` of the named models at the session's sizes, for a clip of ``data.clip_seconds``."""
    from mtlsed.models import DISPLAY_NAMES

    cfg = session.config
    n_frames = cfg.features.n_frames(int(round(cfg.data.clip_seconds * cfg.features.sample_rate)))
    configs = {DISPLAY_NAMES[n]: cfg.with_overrides({"model.name": n}).model for n in names}
    return model_sizes(configs, n_classes, cfg.features.n_mels, n_frames)


def loss_table(terms, loss_cfg, digits: int = 4):
    """Eq. (8) term by term: each loss, its weight and the weighted value; ``total`` is their sum.

    ``terms`` is a :class:`mtlsed.losses.LossTerms`, ``loss_cfg`` the :class:`LossConfig` it came from.
    """
    import pandas as pd

    names = ["bce", "segment", "silent"]
    columns = {}
    for n in names:
        value, weight = float(getattr(terms, n)), getattr(loss_cfg, f"{n}_weight")
        columns[n] = [value, weight, weight * value]
    table = pd.DataFrame(
        columns,
        index=["value", "weight λ", "λ × value"],
    ).round(digits)
    table["total"] = ["", "", round(float(terms.total), digits)]
    return table


def shared_scale(signals: dict) -> dict:
    """Waveforms divided by the largest peak among them (a silent set is left as it is).

    Audio players with ``normalize=False`` then keep the signals' relative levels: a quiet
    source or a weak separation sounds quiet, as it is, instead of being raised to full scale.
    """
    import numpy as np

    peak = max((float(np.max(np.abs(x))) for x in signals.values() if len(x)), default=0.0)
    return {name: (np.asarray(x) / peak if peak > 0 else np.asarray(x)) for name, x in signals.items()}
