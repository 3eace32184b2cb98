"""Run profiles: the papermill parameter files in ``params/``.

A profile is a flat YAML mapping of notebook parameters (papermill's ``-f``
file), so the same file drives ``make book PROFILE=name``, a papermill call by
hand, and ``mtlsed reproduce --profile name``. Its ``overrides`` entry holds
dotted config keys applied on top of the defaults of :class:`mtlsed.config.Config`;
``run_overrides`` adds keys for the one run the notebooks look inside (its masks,
curves and separations), which may train longer than the tables' many runs.
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mtlsed.config import Config, ConfigError, load_config

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
}


def params_dir() -> Path:
    """The ``params/`` folder of the source checkout this package runs from."""
    return Path(__file__).resolve().parent.parent / "params"


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
        return cfg.with_overrides(extra) if extra else cfg


def load_profile(name_or_path: str | Path) -> Profile:
    """Load ``params/NAME.yaml`` (or a YAML file path) and check it builds a valid config."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = params_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles()) or "none"
        raise ConfigError(f"profile {str(name_or_path)!r} not found at {path} (known: {known})")
    params = yaml.safe_load(path.read_text()) or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: a profile is a mapping of parameters")
    for key, tp in PROFILE_KEYS.items():
        if key not in params:
            raise ConfigError(f"{path}: missing key {key!r}")
        if not isinstance(params[key], tp):
            raise ConfigError(f"{path}: {key!r} must be a {tp.__name__}")
    for key, (tp, default) in OPTIONAL_KEYS.items():
        params.setdefault(key, copy.deepcopy(default))
        if params[key] is not None and not isinstance(params[key], tp):
            raise ConfigError(f"{path}: {key!r} must be a {tp.__name__}")
    for key in ("seeds", "seeds_other_rows"):
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


def add_config_arguments(sub: argparse.ArgumentParser) -> None:
    """``--profile``, ``--config`` and ``--set``, as every command that builds a config takes them."""
    sub.add_argument(
        "--profile",
        help=f"a profile name ({', '.join(available_profiles())}) or profile file; "
        f"default: {DEFAULT_PROFILE} unless --config is given",
    )
    sub.add_argument("--config", help="a YAML config file (as `mtlsed config` prints) or a profile file")
    sub.add_argument("--set", nargs="+", metavar="KEY=VALUE", help="overrides, e.g. train.lr=0.001")


def config_from_args(args: argparse.Namespace) -> tuple[Config, str]:
    """The config ``--profile`` / ``--config`` / ``--set`` resolve to, and a line saying where it came from.

    Without either, the ``cpu`` profile: what the README describes. A profile file given to ``--config``
    is read as a profile.
    """
    profile, config = args.profile, args.config
    if config and not profile:
        data = yaml.safe_load(Path(config).read_text()) if Path(config).is_file() else None
        if isinstance(data, dict) and "profile" in data:
            profile, config = config, None
    if profile and config:
        raise ConfigError("give --profile or --config, not both (put extra keys in --set)")
    if config:
        cfg, source = load_config(config), f"config {config}"
    else:
        prof = load_profile(profile or DEFAULT_PROFILE)
        cfg, source = prof.config(), f"profile {prof.name} ({prof.path})"
    if args.set:
        cfg = cfg.with_overrides(args.set)
        source += " with " + " ".join(args.set)
    return cfg, source


def _run_config(args: argparse.Namespace) -> int:
    cfg, source = config_from_args(args)
    print(f"# {source}")
    print(cfg.to_yaml(), end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from mtlsed.cli import add_command

    sub = add_command(subparsers, "config", "print the resolved configuration as YAML", _run_config)
    add_config_arguments(sub)
