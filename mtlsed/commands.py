"""The subcommands of ``mtlsed``: their arguments and the calls they make into the library.

This is the CLI side: the library modules (``train``, ``evaluate``, ``experiments``, ``data``...)
know nothing of argparse. :data:`COMMANDS` lists every subcommand in help order; ``mtlsed.cli``
builds the parser from it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mtlsed.errors import UserError
from mtlsed.profiles import DEFAULT_PROFILE, available_profiles, load_profile

# -- shared arguments -----------------------------------------------------------------


def add_config_arguments(sub: argparse.ArgumentParser) -> None:
    """``--profile``, ``--config`` and ``--set``, as every command that builds a config takes them."""
    sub.add_argument(
        "--profile",
        help=f"a profile name ({', '.join(available_profiles())}) or profile file; "
        f"default: {DEFAULT_PROFILE} unless --config is given",
    )
    sub.add_argument("--config", help="a YAML config file (as `mtlsed config` prints) or a profile file")
    sub.add_argument("--set", nargs="+", metavar="KEY=VALUE", help="overrides, e.g. train.lr=0.001")


def config_from_args(args: argparse.Namespace):
    """The config ``--profile`` / ``--config`` / ``--set`` resolve to, and a line saying where it came from.

    Without either, the ``cpu`` profile: what the README describes. A profile file given to ``--config``
    is read as a profile.
    """
    import yaml

    from mtlsed.config import ConfigError, load_config

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


def add_data_argument(sub: argparse.ArgumentParser, default: str) -> None:
    """The one data parameter: a positional ``DATA`` (kept for old command lines) or ``--data``."""
    sub.add_argument("data_dir", nargs="?", type=Path, help=argparse.SUPPRESS)
    sub.add_argument(
        "--data", type=Path, help=f"a dataset folder (`mtlsed import` makes one); default: {default}"
    )


def data_of(args: argparse.Namespace) -> Path | None:
    if args.data_dir and args.data and args.data_dir.resolve() != args.data.resolve():
        raise UserError(f"two data sets given ({args.data_dir} and --data {args.data}); give one")
    return args.data or args.data_dir


# -- data -------------------------------------------------------------------------------


def _report_problems(root: Path) -> int:
    """The importers end with the validation `check` runs: 0 when clean, 1 with every problem listed."""
    from mtlsed.data.format import validate

    problems = validate(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {root}: fix them or the sources before training")
        return 1
    print(f"{root}: checked as `mtlsed check` does, no problems found")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from mtlsed.data.build import BuildSpec, build_dataset, split_counts
    from mtlsed.data.format import read_split

    spec = BuildSpec(
        args.recipe, args.clips, args.seed, args.sr, args.clip_seconds, args.val_fraction,
        args.test_fraction, "embedded",
    )  # fmt: skip
    start = time.perf_counter()
    out = build_dataset(args.out, spec, workers=args.workers, force=args.force)
    counts = split_counts(read_split(out / "split.tsv"))
    print(f"{args.clips} clips ({counts}) written to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _mix_dcase2018(args: argparse.Namespace) -> int:
    from mtlsed.data.build import BuildSpec, build_dataset
    from mtlsed.data.dcase2018 import dcase2018_sources
    from mtlsed.data.importer import dataset_report

    sources, classes, report = dcase2018_sources(
        args.events, args.backgrounds, args.sr, args.seed, args.val_fraction, args.test_fraction,
        verified_only=not args.all_labels,
    )  # fmt: skip
    print(f"sources: {report}")
    spec = BuildSpec(
        "overlapped", args.clips, args.seed, args.sr, 10.0, args.val_fraction, args.test_fraction, "dcase2018"
    )
    out = build_dataset(args.out, spec, sources=sources, classes=classes, workers=args.workers)
    print(dataset_report(out))
    return _report_problems(out)


def _import(args: argparse.Namespace) -> int:
    from mtlsed.data.importer import SourceSet, import_sets

    train = SourceSet.folder(args.src, args.audio)
    test = SourceSet.folder(args.test, args.test_audio) if args.test else None
    report = import_sets(
        train, args.out, test, args.val_fraction, args.test_fraction, args.seed, copy=args.copy
    )
    print(report)
    return _report_problems(args.out)


def _import_desed(args: argparse.Namespace) -> int:
    from mtlsed.data.desed import import_desed

    report = import_desed(args.desed, args.out, args.val_fraction, args.seed, copy=args.copy)
    print(f"DESED imported: {report}")
    return _report_problems(args.out)


def _features(args: argparse.Namespace) -> int:
    from mtlsed.data.cache import build_feature_cache
    from mtlsed.data.format import require_valid

    cfg, _ = config_from_args(args)
    require_valid(args.data_dir, cfg.data.clip_seconds, cfg.features.win_ms / 1000)
    start = time.perf_counter()
    cache = build_feature_cache(args.data_dir, cfg.features, cfg.data.clip_seconds, device=args.device)
    print(
        f"feature cache {cache.path} shape {tuple(cache.meta['shape'])} ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from mtlsed.data.format import read_info, short_clips, validate

    problems = validate(args.data_dir, check_audio=not args.no_audio)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {args.data_dir}")
        return 1
    if read_info(args.data_dir)["variable_length"]:
        short = short_clips(args.data_dir)
        print(f"variable-length set: {len(short)} clip(s) shorter than 10 s are zero-padded when read")
    print(f"{args.data_dir}: no problems found")
    return 0


def _split_args(sub: argparse.ArgumentParser, test: bool = True) -> None:
    sub.add_argument("--seed", type=int, default=0, help="random seed of the split (default 0)")
    sub.add_argument("--val-fraction", type=float, default=0.1, help="of the training clips (default 0.1)")
    if test:
        sub.add_argument("--test-fraction", type=float, default=0.2, help="held out for test (default 0.2)")


def _import_out_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("out", type=Path, help="output dataset folder (audio is linked, not copied)")
    sub.add_argument("--copy", action="store_true", help="copy the audio instead of linking it")


def _add_data_commands(subparsers, add) -> None:
    sub = add(subparsers, "synth", "mix a data set from the embedded synthetic sound set", _synth)
    sub.add_argument("out", type=Path, help="output dataset folder")
    sub.add_argument("--recipe", choices=["overlapped", "desed-like"], default="overlapped")
    sub.add_argument("--clips", type=int, required=True, help="number of clips")
    sub.add_argument("--sr", type=int, default=16000, help="sample rate in Hz (default 16000)")
    sub.add_argument("--clip-seconds", type=float, default=10.0)
    sub.add_argument(
        "--force", action="store_true", help="replace the audio and labels of a folder not made by synth"
    )
    _split_args(sub)
    sub.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    sub = add(
        subparsers,
        "import",
        "import a weakly labelled set in DESED's TSV format (your own classes) into a dataset folder",
        _import,
    )
    sub.add_argument(
        "src", type=Path, help="folder with audio/ and weak.tsv (strong.tsv, classes.txt optional)"
    )
    _import_out_args(sub)
    sub.add_argument("--audio", type=Path, help="the clips' folder when it is not SRC/audio")
    sub.add_argument("--test", type=Path, help="a second folder in the same layout: the test split")
    sub.add_argument("--test-audio", type=Path, help="the test clips' folder when it is not TEST/audio")
    _split_args(sub)

    sub = add(
        subparsers,
        "mix-dcase2018",
        "mix the paper's overlapped set from local DCASE 2018 task 2 and task 1 copies",
        _mix_dcase2018,
    )
    sub.add_argument("--events", type=Path, required=True, help="FSDKaggle2018 folder (task 2)")
    sub.add_argument("--backgrounds", type=Path, required=True, help="TUT Urban Acoustic Scenes 2018 folder")
    sub.add_argument("out", type=Path, help="output dataset folder")
    sub.add_argument("--clips", type=int, default=8000, help="number of clips (paper: 8000)")
    sub.add_argument("--sr", type=int, default=32000, help="sample rate in Hz (default 32000)")
    sub.add_argument("--all-labels", action="store_true", help="also use clips not manually verified")
    _split_args(sub)
    sub.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    sub = add(
        subparsers,
        "import-desed",
        "turn a local DESED (DCASE 2020 task 4) copy into a dataset folder",
        _import_desed,
    )
    sub.add_argument("desed", type=Path, help="DESED root (with metadata/ and audio/)")
    _import_out_args(sub)
    _split_args(sub, test=False)

    sub = add(subparsers, "features", "build (or resume) the log-mel feature cache of a data set", _features)
    sub.add_argument("data_dir", type=Path)
    add_config_arguments(sub)
    sub.add_argument("--device", default="cpu")

    sub = add(subparsers, "check", "validate a dataset folder; exit 1 when it has problems", _check)
    sub.add_argument("data_dir", type=Path)
    sub.add_argument("--no-audio", action="store_true", help="do not check that audio files exist")


# -- train, evaluate, reproduce ---------------------------------------------------------


def _train(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    from mtlsed.experiments import data_for
    from mtlsed.train import describe_run, run_summary, train

    cfg, source = config_from_args(args)
    main = int(os.environ.get("RANK", "0")) == 0
    data, profile = data_of(args), None
    if data is None and not args.config:  # the embedded set of the profile the config came from
        profile = load_profile(args.profile or DEFAULT_PROFILE)
    data = data_for(profile, 1, data, Path.cwd())
    if main:
        print(run_summary(cfg, source) + f"\ndata: {data}", file=sys.stderr, flush=True)
    train(data, cfg, args.out, resume=args.resume)
    if main:
        print(f"run saved in {args.out}: {describe_run(args.out)}")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mtlsed.evaluate import evaluate_run, format_metrics, metrics_path
    from mtlsed.experiments import data_for
    from mtlsed.inference import trained_on

    data = data_for(None, 1, data_of(args)) if data_of(args) else trained_on(args.run_dir)
    metrics = evaluate_run(args.run_dir, data, args.split, args.checkpoint)
    print(format_metrics(metrics))
    print(f"written to {metrics_path(args.run_dir, args.split)}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from mtlsed.experiments import PAPER_METRICS, markdown_table, markdown_weights, reproduce

    result = reproduce(
        args.table, args.profile, data_of(args), args.out, args.embedded_dir, args.rows, jobs=args.jobs
    )
    print(markdown_table(result.entries, ["at_map", "sed_map", "er", "d", "i"]))
    if result.weights:
        print("\nAuxiliary weights scored on the validation split:\n" + markdown_weights(result.weights))
    for key, rows in result.comparisons.items():
        verdicts = ", ".join(f"{r['metric']} {r['verdict']}" for r in rows if r["metric"] in PAPER_METRICS)
        print(f"{key} - ddc_fap, paired over seeds: {verdicts}")
    return 0


def _add_run_commands(subparsers, add) -> None:
    sub = add(subparsers, "train", "train a model on the train split of a data set", _train)
    add_data_argument(sub, "the profile's embedded set, mixed into ./data")
    add_config_arguments(sub)
    sub.add_argument("--out", type=Path, required=True, help="run directory")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")

    sub = add(subparsers, "evaluate", "score a split with a trained run and write metrics.json", _evaluate)
    sub.add_argument("run_dir", type=Path)
    add_data_argument(sub, "the data set the run was trained on")
    sub.add_argument("--split", default="test", choices=["train", "val", "test"])
    sub.add_argument("--checkpoint", default="best", choices=["best", "last"])

    sub = add(subparsers, "reproduce", "run the grid of the paper's Table 1 or 2 under a profile", _reproduce)
    sub.add_argument("--table", type=int, choices=[1, 2], required=True)
    sub.add_argument(
        "--profile", required=True, help=f"a profile ({', '.join(available_profiles())}) or a YAML path"
    )
    add_data_argument(sub, "the profile's embedded set (mixed on first use)")
    sub.add_argument(
        "--embedded-dir", type=Path, help="without --data: where the embedded set is mixed (default: ./data)"
    )
    sub.add_argument("--out", type=Path, help="grid folder (default: runs/PROFILE/tableN-KEY)")
    sub.add_argument("--rows", nargs="+", help="only these rows (folder names)")
    sub.add_argument(
        "--jobs", type=int, help="runs trained at once (default: one per CPU core, one on a GPU)"
    )


# -- config, book -----------------------------------------------------------------------


def _config(args: argparse.Namespace) -> int:
    cfg, source = config_from_args(args)
    print(f"# {source}")
    print(cfg.to_yaml(), end="")
    return 0


def _book(args: argparse.Namespace) -> int:
    from mtlsed.book import build_book, refresh_notebooks

    if args.refresh_notebooks:
        refresh_notebooks()
        return 0
    index = build_book(args.profile, out=Path(args.out) if args.out else None, data=args.data)
    print(f"book built: {index}")
    return 0


def _add_other_commands(subparsers, add) -> None:
    sub = add(subparsers, "config", "print the resolved configuration as YAML", _config)
    add_config_arguments(sub)

    sub = add(subparsers, "book", "execute the notebooks under a profile and build the HTML book", _book)
    sub.add_argument("--profile", default="cpu", help="a shipped profile or a profile file (default: cpu)")
    sub.add_argument("--data", type=Path, help="a dataset folder every chapter uses (default: embedded set)")
    sub.add_argument("--out", help="build folder (default: _build)")
    sub.add_argument(
        "--refresh-notebooks",
        action="store_true",
        help="rebuild notebooks/*.ipynb from their twins and execute them with the ci defaults",
    )


Adder = Callable[..., argparse.ArgumentParser]
COMMANDS: list[Callable[[argparse._SubParsersAction, Adder], None]] = [
    _add_data_commands,
    _add_run_commands,
    _add_other_commands,
]
