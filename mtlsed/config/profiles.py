"""Run profiles: the parameter files shipped in ``mtlsed/config/params/`` (package data).

A profile is a flat YAML mapping of notebook parameters (papermill's ``-f``
file), so the same file drives ``make book PROFILE=name``, a papermill call by
hand, and ``mtlsed reproduce --profile name``. Its ``overrides`` entry holds
dotted config keys applied on top of the defaults of :class:`mtlsed.config.settings.Config`;
``run_overrides`` adds keys for the one run the notebooks look inside (its masks,
curves and separations), which may train longer than the tables' many runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtlsed.config.settings import Config, ConfigError, load_config
from mtlsed.core.yamlio import parse_yaml, read_yaml

# Keys every profile must define, with their types; anything else is rejected.
PROFILE_KEYS: dict[str, type | tuple[type, ...]] = {
    "profile": str,
    "description": str,
    "n_clips": int,  # clips of the embedded set the profile mixes
    "seeds": list,  # training seeds of each experiment row
    "overrides": dict,  # config keys of every run
}
# Optional keys, with their types and defaults.
OPTIONAL_KEYS: dict[str, tuple[type, Any]] = {
    # further keys for the notebooks' own run (chapters 2-4), e.g. longer training
    "run_overrides": (dict, {}),
    # seeds of the rows outside the paired comparison (top-k rows, other models); default: ``seeds``
    "seeds_other_rows": (list, None),
    # [lambda2, lambda3] pairs tried on the validation split for Table 1's tuned MTL row; [] = none
    "weight_grid": (list, []),
    # the tables chapter 5 and the results page show (3: mask constraints side by side, beyond the paper)
    "tables": (list, [1, 2]),
    # Table 3: the weights tried on validation for each constraint, and the seeds of its chosen rows
    "constraint_grid": (list, [0.05, 0.1, 0.2]),
    "seeds_table3": (list, None),
}


def params_dir() -> Path:
    """The shipped profiles' folder, read as package data (a checkout and an installed wheel alike)."""
    from importlib.resources import files

    return Path(str(files("mtlsed") / "config" / "params"))


def available_profiles() -> list[str]:
    return sorted(p.stem for p in params_dir().glob("*.yaml"))


@dataclass
class Profile:
    """A parsed profile: its name, its raw parameters and the config it implies."""

    name: str
    params: dict[str, Any]
    path: Path | None  # None: made from notebook parameters
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self, extra: dict | list | None = None) -> Config:
        cfg = load_config(None, self.overrides)
        return require_sound(cfg.with_overrides(extra) if extra else cfg)


def _floats(d: dict, prefix: str = ""):
    for key, value in d.items():
        if isinstance(value, dict):
            yield from _floats(value, f"{prefix}{key}.")
        elif isinstance(value, float):
            yield f"{prefix}{key}", value


def require_sound(cfg: Config) -> Config:
    """What the key-by-key checks let through and no run can use, refused with the key: a number too large
    for a float (``1e400`` reads as infinity), more mel bands than the window has frequency bins (empty
    filters, and a feature cache thousands of times the size). Every command that resolves a config
    (``config``, ``train``, ``features``, ``reproduce``) calls it."""
    import math

    for key, value in _floats(cfg.to_dict()):
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    f = cfg.features
    bins = f.n_fft // 2 + 1
    if f.n_mels > bins:
        raise ConfigError(
            f"features.n_mels: at most the {bins} frequency bins of the FFT (n_fft {f.n_fft}: win_ms "
            f"{f.win_ms:g} at {f.sample_rate} Hz), got {f.n_mels}: the extra mel bands would be empty"
        )
    return cfg


def _profile_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = params_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles()) or "none"
        raise ConfigError(f"profile {str(name_or_path)!r} not found at {path} (known: {known})")
    return path


def _read_params(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A profile file's parameters, on top of its ``base`` profile's when it names one (``overrides`` and
    ``run_overrides`` add to the base's, every other key replaces it)."""
    params = read_yaml(path) or {}  # a key given twice, bad YAML, a non-UTF-8 byte: file and line
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: a profile is a mapping of parameters")
    base = params.pop("base", None)
    if base is None:
        return params
    if not isinstance(base, str):
        raise ConfigError(f"{path}: 'base' names a profile (a shipped name or a file), got {base!r}")
    base_path = _profile_path(base if Path(base).suffix not in (".yaml", ".yml") else path.parent / base)
    if base_path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' {base!r} refers back to itself")
    merged = _read_params(base_path, (*seen, path.resolve()))
    for key in ("overrides", "run_overrides"):
        if isinstance(params.get(key), dict):
            params[key] = {**merged.get(key, {}), **params[key]}
    return {**merged, **params}


def load_profile(name_or_path: str | Path) -> Profile:
    """Load the shipped profile NAME (or a YAML file path) and check it builds a valid config.

    A profile may name a ``base`` profile and give only what differs (``cpu-table3`` is ``cpu`` with
    Table 3)."""
    path = _profile_path(name_or_path)
    params = _read_params(path, (path.resolve(),))
    for key, tp in PROFILE_KEYS.items():
        if key not in params:
            raise ConfigError(f"{path}: missing key {key!r}")
        if not isinstance(params[key], tp):
            raise ConfigError(f"{path}: {key!r} must be a {tp.__name__}")
    for key, (tp, default) in OPTIONAL_KEYS.items():
        params.setdefault(key, copy.deepcopy(default))
        if params[key] is not None and not isinstance(params[key], tp):
            raise ConfigError(f"{path}: {key!r} must be a {tp.__name__}")
    if not params["tables"] or any(t not in (1, 2, 3) for t in params["tables"]):
        raise ConfigError(f"{path}: 'tables' lists tables 1, 2 or 3, got {params['tables']!r}")
    grid = params["constraint_grid"]
    if not grid or not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in grid):
        raise ConfigError(f"{path}: 'constraint_grid' is a non-empty list of weights >= 0, got {grid!r}")
    if isinstance(params["n_clips"], bool) or params["n_clips"] < 1:
        raise ConfigError(
            f"{path}: 'n_clips' (clips of the embedded set) must be at least 1, got {params['n_clips']!r}"
        )
    for key in ("seeds", "seeds_other_rows", "seeds_table3"):
        seeds = params[key]
        if seeds is not None and (not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds)):
            raise ConfigError(f"{path}: {key!r} must be a non-empty list of seeds (integers >= 0)")
    if params["seeds_other_rows"] is None:
        params["seeds_other_rows"] = list(params["seeds"])
    for pair in params["weight_grid"]:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in pair)
        ):
            raise ConfigError(
                f"{path}: 'weight_grid' holds [segment_weight, silent_weight] pairs >= 0, got {pair!r}"
            )
    unknown = sorted(set(params) - set(PROFILE_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        known = sorted({*PROFILE_KEYS, *OPTIONAL_KEYS})
        raise ConfigError(f"{path}: unknown key(s) {unknown}; a profile has {known}")
    overrides = params["overrides"]
    try:
        load_config(None, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: overrides: {err}") from None
    try:
        load_config(None, overrides).with_overrides(params["run_overrides"])
    except ConfigError as err:
        raise ConfigError(f"{path}: run_overrides: {err}") from None
    return Profile(name=params["profile"], params=params, path=path, overrides=overrides)


DEFAULT_PROFILE = "cpu"


def _yaml_text(value):
    """A parameter given as text (papermill's ``-p seeds '[0, 1]'``) read as YAML; anything else as it is."""
    if isinstance(value, str):
        try:
            return parse_yaml(value, "parameter")
        except ConfigError:
            return value
    return value


def with_parameters(profile: Profile, seeds=None, n_clips=None, overrides=None) -> Profile:
    """``profile`` with a reader's changes: the notebooks' parameters, checked.

    ``seeds`` and ``n_clips`` replace the profile's when given (rows outside the paired comparison take
    the first ``len(seeds_other_rows)`` of the new seeds); ``overrides`` adds config keys on top of the
    profile's. Text values (``'[0, 1]'``) are read as YAML. Raises :class:`ConfigError` naming the
    parameter.
    """
    seeds, n_clips, overrides = (_yaml_text(v) for v in (seeds, n_clips, overrides))
    params = dict(profile.params)
    if seeds is not None:
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
            raise ConfigError(f"parameter seeds must be a non-empty list of integers, got {seeds!r}")
        # the other rows keep their share of the seeds: the first ones of the new list
        params["seeds_other_rows"] = list(seeds[: len(params["seeds_other_rows"])])
        params["seeds"] = list(seeds)
    if n_clips is not None:
        if not isinstance(n_clips, int) or isinstance(n_clips, bool) or n_clips < 10:
            raise ConfigError(f"parameter n_clips must be an integer >= 10, got {n_clips!r}")
        params["n_clips"] = n_clips
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, dict):
        raise ConfigError(f"parameter overrides must be a mapping of config keys, got {overrides!r}")
    merged = {**profile.overrides, **overrides}
    try:
        load_config(None, merged)
    except ConfigError as err:
        raise ConfigError(f"parameter overrides: {err}") from None
    params["overrides"] = merged
    return Profile(profile.name, params, profile.path, merged)
