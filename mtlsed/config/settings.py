"""One configuration for everything: dataclasses, loaded from and saved to YAML.

Every run directory holds the ``config.yaml`` it was trained with, so a run dir
alone is enough to evaluate it. Loading is strict: an unknown key or a value of
the wrong type raises :class:`ConfigError` naming the dotted key (``train.lr``),
because a typo in a papermill parameter must never silently fall back to a
default.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from mtlsed.core.errors import ConfigError
from mtlsed.core.vocabulary import DEVICE_PATTERN, KNOWN_DEVICES

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass
class FeatureConfig:
    """Log-mel front end (paper Sec. 4.1; Kong et al.'s setup for the details).

    Window and hop are given in milliseconds, as in the paper, and converted to
    samples at ``sample_rate``. With 32 kHz, 64 ms / 32 ms gives n_fft = 2048,
    hop = 1024, and a 10 s clip gives 311 frames (``center=False``).
    """

    sample_rate: int = 32000
    win_ms: float = 64.0
    hop_ms: float = 32.0
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float | None = None  # None: sample_rate / 2
    center: bool = False
    log_eps: float = 1e-8
    # how the cached log-mel is normalised at the model's input (mtlsed.features.normalise); not part of the
    # cache
    # dataset: (x - mean) / std with the training split's per-band statistics (Kong et al.);
    # clip_band_mean: each clip's own per-band mean over time removed, then / the training std (a fixed
    #   microphone or room response is a constant per band in the log domain: it is removed exactly);
    # pcen: per-channel energy normalisation (Wang et al. 2017) of the mel energies, then standardised
    normalise: Literal["dataset", "clip_band_mean", "pcen"] = "dataset"
    pcen_time_constant: float = 0.4  # seconds (Wang et al.: about 0.4 s)
    pcen_gain: float = 0.98
    pcen_bias: float = 2.0
    pcen_power: float = 0.5
    pcen_eps: float = 1e-6
    pcen_scale: float = 2.0**31  # librosa.pcen's defaults assume int32-scaled input: floats are scaled

    # the fields that change the cached log-mel (the normalisation is applied when the cache is read)
    CACHED = ("sample_rate", "win_ms", "hop_ms", "n_mels", "fmin", "fmax", "center", "log_eps")

    def cache_fields(self) -> dict:
        """The settings the feature cache depends on (the normalisation is not among them)."""
        return {name: getattr(self, name) for name in self.CACHED}

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def n_fft(self) -> int:
        return self.win_length

    @property
    def f_max(self) -> float:
        return float(self.fmax) if self.fmax is not None else self.sample_rate / 2.0

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 1 + (n_samples - self.n_fft) // self.hop_length


@dataclass
class DataConfig:
    """How clips are read. *Which* data set is not configuration: it is the ``data`` parameter of
    every command and notebook (a run records it in ``identity.json``), and the split is the data
    set's own ``split.tsv`` (written by ``mtlsed import`` / ``synth``)."""

    clip_seconds: float = 10.0  # clips are zero-padded or cut to this length


@dataclass
class ModelConfig:
    """Which model and its size; see ``mtlsed.models`` for the registry.

    ``channels`` lists one width per block (None: the model's own default, e.g.
    32-64-128-128 for DDC-FAP and VGG-GWRP); ``dilations`` one dilation per
    DDC block (None: 1, 2, 4, ...).
    """

    name: Literal["ddc_fap", "vgg_gwrp", "attention", "talnet"] = "ddc_fap"
    channels: list[int] | None = None
    dilations: list[int] | None = None
    units_per_block: int = 2
    dropout: float = 0.0
    gru_hidden: int = 128  # attention and TALNet
    gwrp_decay: float = 0.9998  # VGG-GWRP
    fap_alpha_init: float = 0.0  # DDC-FAP: auto-pool sharpness at the start (0: mean over time)


@dataclass
class LossConfig:
    """Eq. (8): ``l1 * BCE + l2 * L_segment + l3 * L_silent``.

    A weight of 0 switches a term off; the paper uses 1, 0.2, 0.2.
    ``selection`` picks the active set: the clip labels (Eq. 5) or the
    ``topk`` highest clip predictions (Eq. 6).
    """

    bce_weight: float = 1.0
    segment_weight: float = 0.2
    silent_weight: float = 0.2
    selection: Literal["label", "topk"] = "label"
    topk: int = 2
    dice_eps: float = 1e-7
    # beyond the paper (mtlsed.objectives.constraints), each off at 0; they use the clip labels to pick the
    # active set
    cosine_weight: float = 0.0  # Pellegrini & Cances 2019: cosine similarity of the labelled classes' outputs
    cosine_on: Literal["frame", "mask"] = "frame"  # frame probabilities (any model) or masks over (T, F)
    judge_weight: float = 0.0  # Pishdadian et al. 2020: the detector judges each separated source
    consistency_weight: float = 0.0  # ... and the separated sources add up to the mixture
    consistency_mode: Literal["equal", "at_most"] = "equal"  # at_most: they may leave the background out

    def uses_input(self) -> bool:
        """Whether a term needs the raw log-mel of the batch (the separation terms)."""
        return self.judge_weight > 0 or self.consistency_weight > 0


@dataclass
class AugmentConfig:
    """On-the-fly augmentations of the training batches (``mtlsed.features.augment``), each off by default.

    With every probability at 0 training is bit-identical to a run without augmentation. Each is drawn
    per clip from a generator seeded by ``(train.seed, iteration)``, so a resumed run sees the same
    batches. They act on the log-mel before the input normalisation; settings follow the field's public
    code (DESED_task, FilterAugSED, CPJKU's DCASE 2024 task 1 baseline, PANNs;
    :mod:`mtlsed.features.augment` names each).
    """

    mixup_prob: float = 0.0  # DESED_task: 0.5; mixes energies (not logs); labels: the max of both clips
    mixup_alpha: float = 0.2  # mixing weight ~ Beta(alpha, alpha) (DESED_task 0.2)
    filter_prob: float = 0.0  # FilterAugment: a random per-band EQ (a dB step curve over the mel bands)
    filter_db: float = 6.0  # band gains drawn from [-filter_db, filter_db] (FilterAugment: 6)
    filter_bands: list[int] = field(default_factory=lambda: [3, 6])  # number of bands drawn in this range
    time_mask_prob: float = 0.0  # SpecAugment-style time stripes that never erase a clip's only event
    time_masks: int = 2
    time_mask_max_s: float = 0.64  # PANNs: 64 frames of 10 ms
    freq_mask_prob: float = 0.0  # frequency stripes
    freq_masks: int = 2
    freq_mask_max_fraction: float = 0.125  # of the mel bands (PANNs: 8 of 64)
    gain_prob: float = 0.0  # a random gain of the whole clip
    gain_db: float = 6.0  # drawn from [-gain_db, gain_db]
    shift_prob: float = 0.0  # a circular shift in time by a random number of frames (weak labels hold)
    mixstyle_prob: float = 0.0  # Freq-MixStyle: band means and spreads mixed with another clip's (CPJKU: 0.4)
    mixstyle_alpha: float = 0.3  # mixing weight ~ Beta(alpha, alpha) (CPJKU: 0.3)

    def enabled(self) -> bool:
        """Whether any augmentation can happen (a probability above 0)."""
        return any(v > 0 for name, v in vars(self).items() if name.endswith("_prob"))


@dataclass
class TrainConfig:
    """Optimiser, schedule and run control (paper Sec. 4.1)."""

    batch_size: int = 24
    iterations: int = 10000
    lr: float = 1e-3
    lr_decay: float = 0.9
    lr_decay_every: int = 1000
    weight_decay: float = 0.0  # 0: Adam (the paper's); above 0: AdamW, decoupled (step.make_optimizer)
    seed: int = 0
    device: str = "auto"  # auto: cuda, then mps, then cpu
    amp: bool = True  # mixed precision: float16 autocast on CUDA, bfloat16 autocast on CPU
    threads: int = 1  # intra-op threads on CPU (0: PyTorch's default); see mtlsed.training.train.cpu_threads
    eval_every: int = 500  # validate, log a row and save `last` every this many iterations
    best_metric: Literal["auto", "sed_map", "at_map", "loss"] = "auto"  # auto: sed_map if val is strong
    # 0: off. Otherwise the run validates and saves a moving average of its weights (mtlsed.training.ema)
    ema_decay: float = 0.0


@dataclass
class EvalConfig:
    """Post-processing and metric settings (:mod:`mtlsed.evaluation.postprocess`, ``evaluation.metrics``)."""

    clip_threshold: float = 0.5  # clip-level gate: frames of a class count only if its clip prob passes
    frame_threshold: float = 0.5
    median_filter_s: float = 0.45
    t_collar: float = 0.2
    percentage_of_length: float = 0.5
    # choose clip gate, frame threshold and median filter on the validation split
    # (mtlsed.evaluation.postprocess)
    tune_on_val: bool = False


@dataclass
class Config:
    """The whole configuration of a run."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # -- conversion -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Config:
        cfg = _build(cls, data or {}, prefix="")
        check_ranges(cfg)
        return cfg

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> Path:
        """Write the config as YAML (atomically: a crash never leaves half a file)."""
        from mtlsed.core.atomic import write_text

        return write_text(path, self.to_yaml())

    @classmethod
    def load(cls, path: str | Path) -> Config:
        from mtlsed.core.yamlio import read_yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        data = read_yaml(path)  # a key given twice, bad YAML or a non-UTF-8 byte: file and line
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    def with_overrides(self, overrides: dict[str, Any] | list[str]) -> Config:
        """A copy with dotted-key overrides applied.

        ``overrides`` is a mapping ``{"train.lr": 0.01}`` or a list of
        ``"key=value"`` strings as given on the command line (values parsed as YAML).
        """
        if isinstance(overrides, list):
            overrides = parse_assignments(overrides)
        data = self.to_dict()
        for key, value in overrides.items():
            if key in REMOVED_KEYS:
                raise ConfigError(f"{key}: no longer a config key; {REMOVED_KEYS[key]}")
            parts = key.split(".")
            node = data
            for i, part in enumerate(parts[:-1]):
                if not isinstance(node.get(part), dict):
                    here = ".".join(parts[: i + 1])
                    if part in node:  # a key, not a section: nothing lies below it
                        raise ConfigError(
                            f"{key}: {here} is a key, not a config section; set it as {here}=..."
                        )
                    raise ConfigError(f"{here}: unknown config section")
                node = node[part]
            if isinstance(node.get(parts[-1]), dict):  # a whole section: its keys go one by one
                example = next(iter(node[parts[-1]]))
                raise ConfigError(
                    f"{key}: a config section, not a key; set its keys one by one, e.g. {key}.{example}=..."
                )
            if parts[-1] not in node:
                raise ConfigError(f"{key}: unknown config key{_suggest(parts[-1], node)}")
            node[parts[-1]] = value
        return Config.from_dict(data)


# Allowed values of numeric keys: (test, what the message says is allowed).
RANGES: dict[str, tuple[Any, str]] = {
    "features.sample_rate": (lambda v: v >= 1000, "at least 1000 (Hz)"),
    "features.win_ms": (lambda v: v > 0, "greater than 0"),
    "features.hop_ms": (lambda v: v > 0, "greater than 0"),
    "features.n_mels": (lambda v: v >= 1, "at least 1"),
    "features.pcen_time_constant": (lambda v: v > 0, "greater than 0 (seconds)"),
    "features.pcen_gain": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "features.pcen_bias": (lambda v: v >= 0, "0 or more"),
    "features.pcen_power": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "features.pcen_eps": (lambda v: v > 0, "greater than 0"),
    "features.pcen_scale": (lambda v: v > 0, "greater than 0"),
    "data.clip_seconds": (lambda v: v > 0, "greater than 0"),
    "augment.mixup_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.mixup_alpha": (lambda v: v > 0, "greater than 0"),
    "augment.filter_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.filter_db": (lambda v: v >= 0, "0 or more (dB)"),
    "augment.filter_bands": (
        lambda v: len(v) == 2 and 1 <= v[0] <= v[1],
        "a pair [low, high] with 1 <= low <= high",
    ),
    "augment.time_mask_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.time_masks": (lambda v: v >= 0, "0 or more"),
    "augment.time_mask_max_s": (lambda v: v > 0, "greater than 0 (seconds)"),
    "augment.freq_mask_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.freq_masks": (lambda v: v >= 0, "0 or more"),
    "augment.freq_mask_max_fraction": (lambda v: 0 < v < 1, "in (0, 1)"),
    "augment.gain_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.gain_db": (lambda v: v >= 0, "0 or more (dB)"),
    "augment.shift_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.mixstyle_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "augment.mixstyle_alpha": (lambda v: v > 0, "greater than 0"),
    "model.channels": (
        lambda v: v is None or (len(v) > 0 and min(v) >= 1),
        "a non-empty list of widths >= 1",
    ),
    "model.dilations": (
        lambda v: v is None or (len(v) > 0 and min(v) >= 1),
        "a non-empty list of dilations >= 1",
    ),
    "model.units_per_block": (lambda v: v >= 1, "at least 1"),
    "model.dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "loss.bce_weight": (lambda v: v >= 0, "0 or more"),
    "loss.segment_weight": (lambda v: v >= 0, "0 or more"),
    "loss.silent_weight": (lambda v: v >= 0, "0 or more"),
    "loss.topk": (lambda v: v >= 1, "at least 1 (and at most the number of classes)"),
    "loss.cosine_weight": (lambda v: v >= 0, "0 or more"),
    "loss.judge_weight": (lambda v: v >= 0, "0 or more"),
    "loss.consistency_weight": (lambda v: v >= 0, "0 or more"),
    "train.seed": (lambda v: 0 <= v < 2**32, "0 or more (below 2**32)"),
    "train.batch_size": (lambda v: v >= 1, "at least 1"),
    "train.iterations": (lambda v: v >= 1, "at least 1"),
    "train.lr": (lambda v: v > 0, "greater than 0"),
    "train.lr_decay": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "train.lr_decay_every": (lambda v: v >= 1, "at least 1"),
    "train.eval_every": (lambda v: v >= 1, "at least 1"),
    "train.ema_decay": (lambda v: 0 <= v < 1, "in [0, 1) (0: off)"),
    "train.weight_decay": (lambda v: v >= 0, "0 (Adam, off) or more"),
    "train.threads": (lambda v: v >= 0, "0 (PyTorch's default) or more"),
    "train.device": (lambda v: re.fullmatch(DEVICE_PATTERN, v) is not None, KNOWN_DEVICES),
    "eval.clip_threshold": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "eval.frame_threshold": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "eval.median_filter_s": (lambda v: v >= 0, "0 or more (seconds)"),
    "eval.t_collar": (lambda v: v >= 0, "0 or more (seconds)"),
    "eval.percentage_of_length": (lambda v: 0 <= v <= 1, "in [0, 1]"),
}


def check_ranges(cfg: Config) -> None:
    """Raise :class:`ConfigError` naming the first key whose value is out of its range."""
    for key, (ok, allowed) in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if not ok(value):
            raise ConfigError(f"{key}: must be {allowed}, got {value!r}")
    f = cfg.features
    if f.win_ms / 1000 > cfg.data.clip_seconds:
        raise ConfigError(
            f"features.win_ms: the window ({f.win_ms:g} ms) must fit in a clip "
            f"(data.clip_seconds {cfg.data.clip_seconds:g} s)"
        )
    if f.hop_ms > f.win_ms:
        raise ConfigError(f"features.hop_ms: must be at most win_ms ({f.win_ms:g}), got {f.hop_ms:g}")
    if f.fmax is not None and not 0 < f.fmax <= f.sample_rate / 2:
        raise ConfigError(
            f"features.fmax: must be in (0, sample_rate / 2 = {f.sample_rate / 2:g}] Hz or null, "
            f"got {f.fmax:g}"
        )
    if not 0 <= f.fmin < f.f_max:
        raise ConfigError(f"features.fmin: must be in [0, fmax = {f.f_max:g}) Hz, got {f.fmin:g}")
    m = cfg.model
    if m.name == "ddc_fap" and m.channels and m.dilations and len(m.channels) != len(m.dilations):
        raise ConfigError(
            f"model.dilations: one per block of model.channels ({len(m.channels)}), got {m.dilations}"
        )


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Parse ``["train.lr=0.01", "model.channels=[8,8]"]`` into a dict of YAML values."""
    from mtlsed.core.yamlio import parse_yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{item!r}: expected key=value, e.g. train.lr=0.001")
        if key.strip() in out:
            raise ConfigError(f"{key.strip()}: given twice ({out[key.strip()]!r} and {raw!r}); give it once")
        out[key.strip()] = parse_yaml(raw, f"value of {key.strip()}")
    return out


# -- strict construction ------------------------------------------------------


def _suggest(name: str, known: typing.Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# Keys of earlier versions that nothing read, with where their job went.
REMOVED_KEYS = {
    "data.root": "give the data set as `--data DIR` (train, evaluate, reproduce, book) or the notebooks' "
    "`data` parameter",
    "data.val_fraction": "the split is the data set's split.tsv (`mtlsed import --val-fraction`)",
    "data.test_fraction": "the split is the data set's split.tsv (`mtlsed import --test-fraction`)",
    "data.split_seed": "the split is the data set's split.tsv (`mtlsed import --seed`)",
}


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if f"{prefix}{key}" in REMOVED_KEYS:
            raise ConfigError(f"{prefix}{key}: no longer a config key; {REMOVED_KEYS[f'{prefix}{key}']}")
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown config key{_suggest(str(key), names)}")
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        kwargs[name] = _coerce(hints[name], data[name], prefix + name)
    return cls(**kwargs)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it (ints widened to float)."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {type(value).__name__} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string; it is a number
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):  # NaN or infinity: no setting means it, and strict JSON cannot hold it
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {_type_name(tp)}")  # pragma: no cover


def load_config(path: str | Path | None = None, overrides: dict | list | None = None) -> Config:
    """Defaults, then the YAML file at ``path`` (if any), then ``overrides``."""
    cfg = Config.load(path) if path else Config()
    return cfg.with_overrides(overrides) if overrides else cfg
