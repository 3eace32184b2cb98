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
from mtlsed.profiles import OPTIONAL_KEYS, PROFILE_KEYS, load_profile

# librosa's lazy import of pooch pulls in tqdm.auto, which warns in a kernel without
# ipywidgets; our progress bars are off in notebooks, so the warning is noise.
warnings.filterwarnings("ignore", message="IProgress not found")

# The parameters every notebook takes: the keys of a profile file.
NOTEBOOK_PARAMETERS = set(PROFILE_KEYS) | set(OPTIONAL_KEYS)


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
    """The state of one notebook run: its profile, config, paths and start time."""

    profile: str
    description: str
    n_clips: int
    seeds: list[int]
    overrides: dict
    config: Config
    root: Path
    run_overrides: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

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

    def as_profile(self):
        """The profile these parameters make (what :func:`mtlsed.experiments.reproduce` runs)."""
        from mtlsed.profiles import Profile

        params = {
            "profile": self.profile,
            "description": self.description,
            "n_clips": self.n_clips,
            "seeds": list(self.seeds),
            "overrides": dict(self.overrides),
            "run_overrides": dict(self.run_overrides),
        }
        return Profile(self.profile, params, None, dict(self.overrides))

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
    profile: str,
    description: str,
    n_clips,
    seeds,
    overrides,
    run_overrides=None,
    root: str | Path | None = None,
) -> Session:
    """Check the parameters (names, types, config keys) and return the session of this notebook run."""
    unknown = _injected_parameter_names() - NOTEBOOK_PARAMETERS
    if unknown:
        raise ParameterError(
            f"unknown notebook parameter(s) {sorted(unknown)}; "
            f"the notebooks take {sorted(NOTEBOOK_PARAMETERS)} "
            "(configuration keys go inside 'overrides', e.g. -p overrides '{train.iterations: 100}')"
        )
    # papermill's -p passes text: read a list or a mapping given that way as YAML
    seeds, overrides, run_overrides = (_yaml_text(v) for v in (seeds, overrides, run_overrides))
    if not isinstance(n_clips, int) or isinstance(n_clips, bool) or n_clips < 10:
        raise ParameterError(f"parameter n_clips must be an integer >= 10, got {n_clips!r}")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ParameterError(f"parameter seeds must be a non-empty list of integers, got {seeds!r}")
    if not isinstance(overrides, dict):
        raise ParameterError(f"parameter overrides must be a mapping of config keys, got {overrides!r}")
    run_overrides = {} if run_overrides is None else run_overrides
    if not isinstance(run_overrides, dict):
        raise ParameterError(
            f"parameter run_overrides must be a mapping of config keys, got {run_overrides!r}"
        )
    import pandas as pd

    pd.set_option("display.max_colwidth", 120)  # the notebooks' tables hold sentences
    try:
        config = Config().with_overrides(overrides)
    except ConfigError as err:
        raise ParameterError(f"parameter overrides: {err}") from None
    try:
        config.with_overrides(run_overrides)
    except ConfigError as err:
        raise ParameterError(f"parameter run_overrides: {err}") from None
    if profile in {p.stem for p in (Path(__file__).parent.parent / "params").glob("*.yaml")}:
        load_profile(profile)  # a named profile must itself be valid
    return Session(
        profile,
        description,
        n_clips,
        list(seeds),
        dict(overrides),
        config,
        Path(root or project_root()).resolve(),
        dict(run_overrides),
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

    It uses the profile's ``overrides`` and then its ``run_overrides`` (e.g. more iterations
    than each run of the tables gets), with the first seed. Its folder is named by the run's
    fingerprint (config, data content, code): a changed profile, data set or package trains a new
    run and never reuses a stale one.
    """
    from mtlsed.evaluate import metrics_path
    from mtlsed.experiments import train_and_evaluate
    from mtlsed.identity import data_fingerprint, run_fingerprint

    config = session.config.with_overrides(
        {**session.run_overrides, "train.seed": session.seeds[0], "data.root": str(Path(data_dir).resolve())}
    )
    key = run_fingerprint(config.to_dict(), data_fingerprint(data_dir))["digest"][:8]
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


def per_seed_metrics(grid: Path, rows: list[str], seeds: list[int], metrics=("i", "d", "er")):
    """One line per (row, seed) of a finished grid with the chosen metrics from its metrics_test.json."""
    import json

    import pandas as pd

    lines = []
    for key in rows:
        for seed in seeds:
            m = json.loads((grid / key / f"seed{seed}" / "metrics_test.json").read_text())
            lines.append({"row": key, "seed": seed, **{name.upper(): m[name] for name in metrics}})
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
