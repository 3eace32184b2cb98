"""What the notebooks share: their papermill parameters, the run card, and the one run they look inside.

Notebook cells stay thin: they call these functions (and the modules that own the work:
``experiments`` for data and tables, ``inference`` for predictions, ``models`` for sizes) and
show what comes back.
"""

from __future__ import annotations

import ast
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.book.header import PARAMETERS
from mtlsed.config.profiles import PROFILE_KEYS, Profile, load_profile, with_parameters
from mtlsed.config.settings import Config, ConfigError
from mtlsed.core.envinfo import environment, hardware_line
from mtlsed.core.errors import UserError

# librosa's lazy import of pooch pulls in tqdm.auto, which warns in a kernel without
# ipywidgets; our progress bars are off in notebooks, so the warning is noise.
warnings.filterwarnings("ignore", message="IProgress not found")

# The parameters every notebook takes: a profile, and what a reader changes in it.
NOTEBOOK_PARAMETERS = {name for name, _ in PARAMETERS}  # what papermill may set (mtlsed.book.header)
CARD_WIDTH = 80  # characters of a session card line: a code block's width in the book


class ParameterError(UserError, ValueError):
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
    data: Path | None = None  # the user's data set; None: the profile's embedded set
    started: float = field(default_factory=time.perf_counter)

    @property
    def embedded(self) -> bool:
        """Whether the chapters run on the embedded synthetic set (no ``data`` parameter)."""
        return self.data is None

    def data_dir(self, table: int = 1) -> Path:
        """The data set of the chapters: ``data``, else the profile's embedded set for ``table``."""
        from mtlsed.experiments.datasets import data_for

        return data_for(self.prof, table, self.data, self.root)

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

    def card(self) -> str:
        """Which profile, hardware and package versions produce this notebook's numbers."""
        env = environment()
        versions = ", ".join(f"{k} {env[k]}" for k in ("mtlsed", "torch", "numpy", "librosa", "sed_eval"))
        data = f"data: {self.data}" if self.data else "data: the profile's embedded synthetic set"
        lines = [
            f"profile: {self.profile} ({self.description})",
            data,
            f"hardware: {hardware_line(env)}; device used: {self.device}",
            f"software: Python {env['python']}, {versions}",
        ]
        # wrapped to the width of a code block in the book, continuation lines indented
        return "\n".join(textwrap.fill(line, CARD_WIDTH, subsequent_indent="  ") for line in lines)

    @property
    def device(self) -> str:
        from mtlsed.core.devices import pick_device

        return str(pick_device(self.config.train.device))

    def finish(self) -> str:
        return (
            f"wall time of this notebook: {time.perf_counter() - self.started:.0f} s (profile {self.profile})"
        )


def project_root() -> Path:
    """Where ``data/`` and ``runs/`` go: above a ``notebooks/`` folder (the checkout), else the working
    folder (Colab, a copy of one notebook, an installed package's ``mtlsed book``)."""
    here = Path.cwd()
    return here.parent if here.name == "notebooks" else here


def setup(
    profile: str = "ci",
    data: str | Path | None = None,
    seeds=None,
    n_clips=None,
    overrides=None,
    root: str | Path | None = None,
) -> Session:
    """Load the profile, apply the notebook's parameters to it, check them, and start the session.

    ``profile`` is a shipped profile's name or a profile file; ``data`` a dataset folder (``mtlsed
    import`` makes one) that replaces the embedded set in every chapter; ``seeds``, ``n_clips`` and
    ``overrides``: see :func:`mtlsed.config.profiles.with_parameters`.
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
    if not isinstance(profile, str | Path):
        raise ParameterError(f"parameter profile must be a profile name or file, got {profile!r}")
    try:
        loaded = load_profile(profile)
    except ConfigError as err:
        raise ParameterError(f"parameter profile: {err}") from None
    try:
        prof = with_parameters(loaded, seeds, n_clips, overrides)
    except ConfigError as err:
        raise ParameterError(str(err)) from None
    if data is not None:
        if not isinstance(data, str | Path) or not str(data).strip():
            raise ParameterError(f"parameter data must be a dataset folder, got {data!r}")
        from mtlsed.experiments.datasets import data_for

        try:
            data = data_for(None, 1, data)  # the same check as every command's --data
        except UserError as err:
            raise ParameterError(f"parameter data: {err}") from None
    import pandas as pd

    pd.set_option("display.max_colwidth", 120)  # the notebooks' tables hold sentences
    root = Path(root or project_root()).resolve()
    return Session(prof, prof.config(), root, data)


def profile_run(session: Session, data_dir: Path, name: str = "mtl_ddc_fap") -> Path:
    """The notebooks' main run: MTL-DDC-FAP (segment + silent, label-guided) trained once per setting.

    It uses the profile's ``overrides`` and then its ``run_overrides``, with the first seed. Without
    ``run_overrides`` it is exactly Table 1's ``segment_silent-label`` run of that seed, so it is
    trained into that row's folder of the Table 1 grid and chapter 5 finds it done (with a second
    core, Table 1's BCE run of the same seed trains beside it rather than leave it idle). Otherwise its
    folder is named by the run's fingerprint (config, data content, code). Either way a changed
    profile, data set or package trains a new run and never reuses a stale one.
    """
    from mtlsed.data.fingerprint import data_fingerprint
    from mtlsed.experiments.registry import table_rows
    from mtlsed.experiments.reproduce import grid_dir, grid_key
    from mtlsed.experiments.rows import BASELINE
    from mtlsed.experiments.runner import default_jobs, run_grid, train_and_evaluate
    from mtlsed.runs.identity import run_fingerprint
    from mtlsed.runs.runfolder import is_finished

    seed = session.seeds[0]
    config = session.config.with_overrides({**session.run_overrides, "train.seed": seed})
    data_fp = data_fingerprint(data_dir)
    row = next(r for r in table_rows(1) if r.key == "segment_silent-label")
    as_in_table = session.config.with_overrides({**row.overrides, "train.seed": seed})
    if as_in_table.to_dict() == config.to_dict():
        grid = grid_dir(session.profile, 1, session.root, grid_key(session.config, data_fp))
        run_dir = grid / row.key / f"seed{seed}"
        if is_finished(run_dir, data_fp) is None and default_jobs() > 1:
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
    if is_finished(run_dir, data_fp) is None:
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
    from mtlsed.data.audio import load_audio
    from mtlsed.evaluation.inference import predict_clips

    out, ds, x = predict_clips(run_dir, data_dir, [i], split)
    name = ds.filenames[i]
    cfg = ds.cfg
    audio = load_audio(ds.index.audio_path(name), cfg.features.sample_rate, cfg.data.clip_seconds)
    return ClipView(
        name,
        audio,
        x[0].numpy(),
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

    from mtlsed.data.format import read_dataset
    from mtlsed.evaluation.inference import predict_clips

    n = min(n, len(read_dataset(data_dir).files_in(split)))
    out, ds, _ = predict_clips(run_dir, data_dir, range(n), split)
    labels = torch.from_numpy(ds.clip_labels[:n])
    return out, labels, ds.classes, ds.filenames[:n]


def selection_table(out, labels, classes: list[str], names: list[str], topks=(2, 3, 5)):
    """Per clip: its labels, the classes each top-k rule selects, and the segment loss of each rule."""
    import pandas as pd

    from mtlsed.objectives.losses import segment_loss, select_active

    rows = []
    for n, name in enumerate(names):
        row = {"clip": name, "labels": ", ".join(c for c, y in zip(classes, labels[n], strict=True) if y > 0)}
        # top-k needs at least k classes
        rules = [("label-guided", "label", 0)] + [(f"top{k}", "topk", k) for k in topks if k <= len(classes)]
        for tag, rule, k in rules:
            active = select_active(out.clip[n : n + 1], labels[n : n + 1], rule, k or 1)
            if rule == "topk":
                row[f"{tag} selects"] = ", ".join(c for c, a in zip(classes, active[0], strict=True) if a)
            row[f"segment {tag}"] = round(float(segment_loss(out.masks[n : n + 1], active)), 4)
        rows.append(row)
    return pd.DataFrame(rows).set_index("clip")


def psds_by_class(runs: dict[str, Path], data_dir: Path, scenario: str = "psds1", split: str = "test"):
    """Each class's PSD-ROC area (rows) for each run (columns), from the runs' saved scores.

    ``runs`` maps a column label to a run folder holding ``scores_<split>.npz`` and
    ``config.yaml``; see :func:`mtlsed.evaluation.metrics.psds_per_class`.
    """
    import pandas as pd

    from mtlsed.config.settings import Config
    from mtlsed.data.format import read_dataset
    from mtlsed.evaluation.metrics import Scores, merge_overlaps, psds_per_class

    index = read_dataset(data_dir)
    columns = {}
    for label, run in runs.items():
        scores = Scores.load(Path(run) / f"scores_{split}.npz")
        clip_seconds = Config.load(Path(run) / "config.yaml").data.clip_seconds
        reference = {n: merge_overlaps(index.strong[n]) for n in scores.filenames if index.has_strong(n)}
        columns[label] = psds_per_class(scores, reference, dict.fromkeys(reference, clip_seconds), scenario)
    return pd.DataFrame(columns)


def loss_table(terms, loss_cfg, digits: int = 4):
    """Eq. (8) term by term: each loss, its weight and the weighted value; ``total`` is their sum.

    ``terms`` is a :class:`mtlsed.objectives.total.LossTerms`, ``loss_cfg`` the :class:`LossConfig` it came
    from.
    """
    import pandas as pd

    from mtlsed.core.vocabulary import PAPER_LOSS_TERMS

    names = PAPER_LOSS_TERMS
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


def class_table(session: Session):
    """The classes the chapters work with: the embedded set's, with what each sounds like, or those of the
    ``data`` set, with its clips per split (:func:`mtlsed.data.importer.dataset_report`)."""
    import pandas as pd

    if session.embedded:
        from mtlsed.data.synthetic import CLASS_NOTES

        return pd.DataFrame({"class": list(CLASS_NOTES), "what it sounds like": list(CLASS_NOTES.values())})
    from mtlsed.data.importer import dataset_report

    report = dataset_report(session.data_dir())
    frame = pd.DataFrame(report.per_class).T.reindex(columns=list(report.counts)).fillna(0).astype(int)
    frame.columns = [f"{s} clips" for s in frame.columns]
    frame.index.name = "class"
    return frame


@dataclass
class Example:
    """One clip to look at and listen to, with its parts when it was mixed here."""

    title: str
    audio: object  # (S,) waveform at the profile's rate
    parts: list  # [(name, (S,) waveform)]: background and events of a mixture; the clip alone otherwise
    events: list  # strong labels (onset, offset, label), with ``snr_db`` for a mixture's events
    labels: list[str]  # the weak label
    classes: list[str]


def example_clip(session: Session, seed: int = 7) -> Example:
    """A clip of the chapters' data: an overlapped mixture of the embedded set, mixed here with ``seed``;
    with a ``data`` set, its test clip with the most strong events (the first one on a tie)."""
    import numpy as np

    sr = session.config.features.sample_rate
    if session.embedded:
        from mtlsed.data.mix import mix_overlapped
        from mtlsed.data.synthetic import SyntheticBackgrounds, SyntheticEvents

        rng = np.random.default_rng(seed)
        mixture = mix_overlapped(rng, SyntheticEvents(sr), SyntheticBackgrounds(sr), sr)
        parts = [("background", mixture.background)] + [(e.label, e.audio) for e in mixture.events]
        classes = SyntheticEvents(sr).classes
        return Example("the mixture", mixture.audio, parts, mixture.events, mixture.labels, classes)
    from mtlsed.data.audio import load_audio
    from mtlsed.data.format import read_dataset

    index = read_dataset(session.data_dir())
    names = index.files_in("test") or index.filenames
    name = max(names, key=lambda n: len(index.strong.get(n, [])) if index.strong else 0)
    audio = load_audio(index.audio_path(name), sr, session.config.data.clip_seconds)
    events = index.strong.get(name, []) if index.strong else []
    return Example(name, audio, [(name, audio)], events, index.weak[name], index.classes)


def events_table(events: list):
    """Strong labels as a table: event, onset, offset, and the SNR where the clip was mixed here."""
    import pandas as pd

    rows = []
    for e in events:
        row = {"event": e.label, "onset (s)": round(e.onset, 2), "offset (s)": round(e.offset, 2)}
        if hasattr(e, "snr_db"):
            row["SNR (dB)"] = round(e.snr_db, 1)
        rows.append(row)
    return pd.DataFrame(rows)


def class_examples(session: Session) -> list[tuple[str, object, list]]:
    """One clip per class of the ``data`` set: ``(title, log-mel (T, F), that class's strong events)``.

    The first test clip with the class (strongly labelled clips first), else the first clip with it.
    """
    from mtlsed.data.audio import load_audio
    from mtlsed.data.format import read_dataset
    from mtlsed.features.logmel import logmel

    cfg = session.config
    index = read_dataset(session.data_dir())
    order = sorted(index.filenames, key=lambda n: (index.split.get(n) != "test", not index.has_strong(n)))
    out = []
    for c in index.classes:
        name = next((n for n in order if c in index.weak[n]), None)
        if name is None:
            continue
        y = load_audio(index.audio_path(name), cfg.features.sample_rate, cfg.data.clip_seconds)
        events = [e for e in (index.strong.get(name, []) if index.strong else []) if e.label == c]
        out.append((f"{c} ({name})", logmel(y, cfg.features), events))
    return out


def shared_scale(signals: dict) -> dict:
    """Waveforms divided by the largest peak among them (a silent set is left as it is).

    Audio players with ``normalize=False`` then keep the signals' relative levels: a quiet
    source or a weak separation sounds quiet, as it is, instead of being raised to full scale.
    """
    import numpy as np

    peak = max((float(np.max(np.abs(x))) for x in signals.values() if len(x)), default=0.0)
    return {name: (np.asarray(x) / peak if peak > 0 else np.asarray(x)) for name, x in signals.items()}


def constraint_terms(run_dir: Path, data_dir: Path, n: int = 8, split: str = "test"):
    """Every mask constraint's value (the paper's and those of Table 3) for the first ``n`` clips of a split
    under the trained model of ``run_dir``: one row per clip, one column per term (unweighted)."""
    import pandas as pd
    import torch

    from mtlsed.config.settings import LossConfig
    from mtlsed.evaluation.inference import load_run
    from mtlsed.features.normalise import normalise
    from mtlsed.objectives import constraints
    from mtlsed.objectives.losses import segment_loss, silent_loss
    from mtlsed.training.train import _judge

    cfg, classes, model = load_run(run_dir, "best", "cpu")
    from mtlsed.features.dataset import SedDataset

    ds = SedDataset(data_dir, cfg, split)
    n = min(n, len(ds))
    raw, labels = ds.raw_features()[:n], torch.from_numpy(ds.clip_labels[:n])
    mean, std = (torch.from_numpy(v) for v in ds.norm_stats())
    judge = _judge(model, cfg, mean, std, torch.device("cpu"))
    rows = []
    with torch.no_grad():
        for i in range(n):
            x_raw, y = raw[i : i + 1], labels[i : i + 1]
            out = model(normalise(x_raw, cfg.features, mean, std))
            active = y > 0.5
            index, valid = constraints.active_index(active)
            judged = (
                constraints.judge_loss(
                    judge(constraints.separated_inputs(x_raw, out.masks, index, cfg.features.log_eps)),
                    index,
                    valid,
                )
                if index.shape[1]
                else torch.zeros(())
            )
            rows.append(
                {
                    "clip": ds.filenames[i],
                    "labels": ", ".join(c for c, a in zip(classes, active[0], strict=True) if a),
                    "segment (dice)": float(segment_loss(out.masks, active)),
                    "silent": float(silent_loss(out.masks, ~active)),
                    "cosine": float(constraints.cosine_penalty_of(out, active)),
                    "judge": float(judged),
                    "consistency": float(
                        constraints.mixture_consistency(
                            out.masks, x_raw, active, cfg.features.log_eps, LossConfig().consistency_mode
                        )
                    ),
                }
            )
    return pd.DataFrame(rows).set_index("clip").round(4)


def masks_by_run(runs: dict, data_dir: Path, split: str = "test"):
    """One clip seen by several runs: ``(views, classes, shown, name)`` with ``views`` label -> masks
    ``(K, T, F)`` of the same clip (the ``split``'s clip with the most labels), ``shown`` its labelled
    classes and the most active unlabelled one (where a constraint's effect on silence shows).
    ``runs``: label -> run folder."""
    import numpy as np

    from mtlsed.data.format import read_dataset
    from mtlsed.evaluation.inference import predict_clips

    index = read_dataset(data_dir)
    names = index.files_in(split)
    i = max(range(len(names)), key=lambda j: (len(index.weak[names[j]]), -j))  # a clip with the most labels
    views = {}
    for label, run in runs.items():
        out, _, _ = predict_clips(run, data_dir, [i], split)
        views[label] = out.masks[0].detach().numpy()
    classes = index.classes
    labelled = [classes.index(c) for c in index.weak[names[i]]]
    mean = np.mean([v.mean((1, 2)) for v in views.values()], axis=0)
    others = [k for k in np.argsort(-mean) if k not in labelled]
    return views, classes, labelled + others[:1], names[i]


def constraint_views(table3, data_dir: Path, split: str = "test", seed: int | None = None):
    """One clip seen by the first-seed run of every row of Table 3 (:func:`masks_by_run`)."""
    runs = {}
    for e in table3.entries:
        found = sorted((table3.grid / e["row"]).glob("seed*"), key=lambda p: int(p.name[4:]))
        if seed is not None:
            found = [r for r in found if r.name == f"seed{seed}"]
        if not found:
            continue
        short = {"ddc_fap": "BCE only", "segment_silent": "segment\n+ silent"}.get(e["row"], e["row"])
        runs[short + (f"\n{e['setting'].replace(' chosen on val', '')}" if e["setting"] else "")] = found[0]
    return masks_by_run(runs, data_dir, split)


def bce_twin(run_dir: Path) -> Path | None:
    """The BCE-only run of the same Table 1 grid and seed as ``run_dir`` (the notebooks' main run, see
    :func:`profile_run`), when it was trained; else None."""
    run_dir = Path(run_dir)
    twin = run_dir.parent.parent / "ddc_fap" / run_dir.name
    return twin if (twin / "metrics_test.json").is_file() else None


def weighted_terms_sentence(table) -> str:
    """What :func:`weighted_terms` says, read off the numbers: each auxiliary term's share of the total at
    the start and at the end of the run."""
    aux = [c for c in table.columns if "×" in c]
    parts = []
    for where, row in table.iterrows():
        shares = ", ".join(f"{c.split(' × ')[1]} {100 * row[c] / row['total']:.0f} %" for c in aux)
        parts.append(f"at the {where.split(' ')[0]} the weighted terms are {shares} of the total")
    said = "; ".join(parts)
    return said[:1].upper() + said[1:] + " (the rest is the cross-entropy)."


def masks_sentence(views: dict, classes: list[str], shown: list[int]) -> str:
    """What two runs' masks of one clip say, read off the numbers: the mean mask level of the labelled
    classes and of the unlabelled one shown, run by run (``views``, ``shown``: :func:`masks_by_run`)."""
    labelled, quiet = shown[:-1], shown[-1]
    parts = []
    for label, masks in views.items():
        active = float(masks[labelled].mean())
        parts.append(
            f"{label.replace(chr(10), ' ')}: labelled classes at a mean of {active:.2f}, "
            f"{classes[quiet]} (unlabelled) at {float(masks[quiet].mean()):.2f}"
        )
    return "Mean mask level over the clip: " + "; ".join(parts) + "."


def training_log(run_dir: Path):
    """A run's ``log.csv`` as a DataFrame of numbers (a column that a run did not log: NaN)."""
    import pandas as pd

    from mtlsed.runs.runfolder import RunFolder

    return pd.DataFrame(RunFolder(run_dir).read_log()).apply(pd.to_numeric, errors="coerce")


def weighted_terms(run_dir: Path):
    """Eq. (8)'s terms as they enter the total at the first and at the last logged iteration of a run
    (its ``log.csv``: means over the iterations since the previous line), with the weights of its config."""
    import pandas as pd

    from mtlsed.core.vocabulary import PAPER_LOSS_TERMS
    from mtlsed.runs.runfolder import RunFolder

    log, loss = training_log(run_dir), RunFolder(run_dir).config().loss
    rows = {}
    for where, line in (("start", log.iloc[0]), ("end", log.iloc[-1])):
        terms = {}
        for name in PAPER_LOSS_TERMS:  # Eq. (8): bce, segment, silent
            weight = getattr(loss, f"{name}_weight")
            terms["BCE" if name == "bce" else f"{weight:g} × {name}"] = weight * line[name]
        terms["total"] = sum(terms.values())
        rows[f"{where} (iteration {int(line['iteration'])})"] = terms
    return pd.DataFrame(rows).T.round(3)


def band_weights_sentence(weights) -> str:
    """What FAP's band weights ``(K, F)`` say, read off the numbers: how far they are from the uniform 1/F
    (the plain mean over bands, where they start) and which class departs most."""
    import numpy as np

    uniform = 1.0 / weights.shape[1]
    departure = np.abs(weights - uniform) / uniform  # relative to 1/F
    worst = float(departure.max())
    if worst < 0.1:
        return (
            f"The weights stay within {100 * worst:.0f} % of the uniform 1/{weights.shape[1]}: after this "
            "training FAP still averages the bands almost evenly, so the pale map is the finding, not a "
            "colour-scale accident."
        )
    k = int(np.unravel_index(departure.argmax(), departure.shape)[0])
    return (
        f"The weights move up to {100 * worst:.0f} % away from the uniform 1/{weights.shape[1]} (row {k} "
        "departs most): FAP has learnt to look for some classes in some bands more than in others."
    )


def alpha_sentence(alpha, classes: list[str], start: float = 0.0) -> str:
    """What FAP's learned time-pooling sharpness ``alpha`` ``(K, F)`` says, read off the numbers: its range,
    its median, and the class that pools most like a max and most like a mean (``start``: where training
    began, ``model.fap_alpha_init``)."""
    import numpy as np

    alpha = np.asarray(alpha, dtype=np.float64)
    moved = float(np.abs(alpha - start).max())
    if moved < 0.05:
        return (
            f"α has moved at most {moved:.3f} from its start at {start:g} in every class and band: after "
            "this training FAP still pools over time with (almost) the plain mean."
        )
    per_class = np.median(alpha, axis=1)
    sharp, flat = int(per_class.argmax()), int(per_class.argmin())
    return (
        f"The learned α spans {alpha.min():.2f} to {alpha.max():.2f} over classes and bands (median "
        f"{np.median(alpha):.2f}, from a start at {start:g}); {classes[sharp]} pools most like a max "
        f"(median α {per_class[sharp]:.2f} over its bands), {classes[flat]} most like a mean "
        f"({per_class[flat]:.2f})."
    )


def shift_sentence(shifted: dict, metric: str = "sed_map") -> str:
    """What a run's scores through other channels say (``shifted``: ``{"clean": metrics, CHANNEL: metrics}``
    as :func:`mtlsed.evaluation.evaluate.evaluate_shifted` returns), read off the numbers: the channel that
    costs most and the one that costs least, in ``metric``."""
    from mtlsed.core.vocabulary import METRIC_NAMES

    clean = shifted["clean"].get(metric)
    changes = {
        c: m[metric] - clean
        for c, m in shifted.items()
        if c != "clean" and clean is not None and m.get(metric) is not None
    }
    if not changes:
        return f"{METRIC_NAMES[metric]} is not defined on these clips, so the channels are not compared."
    worst, best = min(changes, key=changes.get), max(changes, key=changes.get)
    return (
        f"{METRIC_NAMES[metric]} on the clean test clips is {clean:.3f}; the {worst} channel costs most "
        f"({changes[worst]:+.3f}), the {best} channel least ({changes[best]:+.3f}). One run and one draw of "
        "each channel: a direction to check with more seeds, not a measured effect."
    )


@dataclass
class ToyDescent:
    """Two soft masks ``(2, T, F)`` shaped by gradient descent: snapshots and what each step measured."""

    snapshots: dict  # step -> masks (2, T, F)
    dice: list  # dice of the pair, step by step
    level: list  # mean mask value of each mask, step by step: [(a, b), ...]


def toy_segment_descent(with_bce: bool, steps: int = 150, lr: float = 0.1, seed: int = 0) -> ToyDescent:
    """Gradient descent on two overlapping blobs with the segment loss of a clip whose two classes are
    both active (Eq. 5: dice over the ordered pairs, ``2 dice(A, B)``); with ``with_bce`` also the
    cross-entropy that says both classes are present, on a linear-softmax clip probability
    ``sum M^2 / sum M`` (a stand-in for FAP). Masks are sigmoids of free logits, as the model's are.

    Alone, the segment loss empties the shared bins and lets each mask spread into bins nobody claims (soft
    dice also falls as the other mask's sum grows); with the cross-entropy holding each class present, the
    masks harden towards 0 and 1 and keep most of their overlap. Chapter 3 plots both."""
    import torch

    from mtlsed.objectives.losses import bce_loss, pairwise_dice

    gen = torch.Generator().manual_seed(seed)
    t, f = torch.meshgrid(torch.arange(40.0), torch.arange(24.0), indexing="ij")
    blob = lambda ct, cf: torch.exp(-((t - ct) ** 2 / 60 + (f - cf) ** 2 / 30))  # noqa: E731
    start = torch.stack([blob(16, 10), blob(24, 14)]).clamp(1e-3, 1 - 1e-3)
    noise = 0.01 * torch.randn(start.shape, generator=gen)
    logits = (torch.log(start / (1 - start)) + noise).requires_grad_()
    opt = torch.optim.Adam([logits], lr=lr)
    snapshots, dice, level = {}, [], []
    for step in range(steps + 1):
        masks = torch.sigmoid(logits)
        pair = pairwise_dice(masks[None])[0, 0, 1]
        dice.append(pair.item())
        level.append(tuple(m.item() for m in masks.detach().mean((1, 2))))
        if step in (0, steps // 3, steps):
            snapshots[step] = masks.detach().clone().numpy()
        loss = 2 * pair  # both classes active: the ordered pairs (A, B) and (B, A)
        if with_bce:
            clip = (masks**2).sum((1, 2)) / masks.sum((1, 2))
            loss = loss + 5 * bce_loss(clip[None], torch.ones(1, 2))
        # the gradient of this toy alone (a training step of the model is mtlsed.training.step's)
        (logits.grad,) = torch.autograd.grad(loss, [logits])
        opt.step()
    return ToyDescent(snapshots, dice, level)


def toy_descent_sentence(runs: dict) -> str:
    """What :func:`toy_segment_descent` runs ``{name: ToyDescent}`` measured, read off their numbers."""
    parts = []
    for name, r in runs.items():
        a0, b0 = r.level[0]
        a1, b1 = r.level[-1]
        parts.append(
            f"{name}: the dice of the pair goes from {r.dice[0]:.2f} to {r.dice[-1]:.2f} in "
            f"{len(r.dice) - 1} steps, and the masks' mean level from {(a0 + b0) / 2:.2f} "
            f"to {(a1 + b1) / 2:.2f}"
        )
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def autopool_weights(p, alpha: float):
    """The weight auto-pool gives each frame of ``p`` (T,): ``softmax_t(alpha p)``; for ``alpha = inf`` the
    limit, the maxima sharing all the weight. Presentation only: training pools with
    :func:`mtlsed.models.pooling.autopool`."""
    import math

    import numpy as np

    p = np.asarray(p, dtype=np.float64)
    if math.isinf(alpha):
        top = (p == p.max()).astype(np.float64)
        return top / top.sum()
    z = np.exp(alpha * (p - p.max()))  # shifted by the max: the same softmax, no overflow
    return z / z.sum()


def autopool_levels(p, alphas=(0.0, 1.0, 5.0, float("inf")), event=None):
    """What auto-pool makes of one curve ``p`` (T,) for each sharpness α: the pooled value (α = 0 the
    mean, α → ∞ the max) and, when ``event`` (a boolean (T,) array of the frames an event holds) is given,
    the share of the weight those frames carry."""
    import numpy as np
    import pandas as pd

    p = np.asarray(p, dtype=np.float64)
    rows = []
    for alpha in alphas:
        w = autopool_weights(p, alpha)
        row = {"α": "∞" if np.isinf(alpha) else f"{alpha:g}", "pooled value": float(w @ p)}
        if event is not None:
            row["weight on the event's frames"] = float(w[np.asarray(event, dtype=bool)].sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("α").round(3)


def split_table(index):
    """Clips per split of a data set (:class:`mtlsed.data.format.DatasetIndex`), one row, train / val / test
    in that order (a split the set lacks: 0)."""
    import pandas as pd

    counts = pd.Series(index.split).value_counts().reindex(["train", "val", "test"]).fillna(0).astype(int)
    return pd.DataFrame({"clips": counts}).T


def class_counts(index):
    """Clips holding each class (weak labels), in the data set's class order (a class no clip holds: 0)."""
    import pandas as pd

    counts = pd.Series([c for labels in index.weak.values() for c in labels], dtype=object).value_counts()
    return counts.reindex(index.classes).fillna(0).astype(int)


def pooling_table(masks, active, classes):
    """One clip's masks ``(K, T, F)`` pooled into a clip probability by each model's pooling: the plain mean
    and max, VGG-GWRP's ranked weighting, TALNet's linear softmax over frame means, and auto-pool with α = 5
    over frame means; ``active``: the clip's labels ``(K,)``."""
    import numpy as np
    import pandas as pd
    import torch

    from mtlsed.models.pooling import autopool, gwrp, linear_softmax

    masks = torch.as_tensor(np.asarray(masks))
    frame_mean = masks.mean(-1)
    return pd.DataFrame(
        {
            "label": [int(a) for a in active],
            "mean": masks.mean((1, 2)).numpy(),
            "max": masks.amax((1, 2)).numpy(),
            "GWRP": gwrp(masks[None])[0].numpy(),
            "linear-softmax": linear_softmax(frame_mean, -1).numpy(),
            "auto-pool α=5": autopool(frame_mean, 5.0, -1).numpy(),
        },
        index=classes,
    ).round(3)


def run_summary(run_dir: Path):
    """What a run is, in one column: model, loss weights, selection, length, learning rate, seed, and its
    training time on its hardware (from its config and ``metrics_test.json``)."""
    import pandas as pd

    from mtlsed.runs.runfolder import RunFolder

    run = RunFolder(run_dir)
    cfg, metrics = run.config(), run.require_metrics("test")
    return pd.Series(
        {
            "model": f"{cfg.model.name}, channels {cfg.model.channels}, dilations {cfg.model.dilations}",
            "loss weights (bce, segment, silent)": (
                cfg.loss.bce_weight,
                cfg.loss.segment_weight,
                cfg.loss.silent_weight,
            ),
            "selection": cfg.loss.selection,
            "iterations x batch": f"{cfg.train.iterations} x {cfg.train.batch_size}",
            "learning rate": (
                f"{cfg.train.lr}, x{cfg.train.lr_decay} every {cfg.train.lr_decay_every} iterations"
            ),
            "seed": cfg.train.seed,
            "training time": f"{metrics['train_seconds']:.0f} s on {hardware_line(metrics['environment'])}",
        },
        name="this run",
    ).to_frame()
