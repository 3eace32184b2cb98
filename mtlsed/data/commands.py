"""The data subcommands: ``synth``, ``mix-dcase2018``, ``import-desed``, ``features``, ``check``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mtlsed.cli import add_command


def _synth(args: argparse.Namespace) -> int:
    from mtlsed.data.build import BuildSpec, build_dataset, split_counts
    from mtlsed.data.format import read_split

    spec = BuildSpec(
        args.recipe,
        args.clips,
        args.seed,
        args.sr,
        args.clip_seconds,
        args.val_fraction,
        args.test_fraction,
        "embedded",
    )
    start = time.perf_counter()
    out = build_dataset(args.out, spec, workers=args.workers, force=args.force)
    counts = split_counts(read_split(out / "split.tsv"))
    print(f"{args.clips} clips ({counts}) written to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _mix_dcase2018(args: argparse.Namespace) -> int:
    from mtlsed.data.build import BuildSpec, build_dataset
    from mtlsed.data.dcase2018 import dcase2018_sources

    sources, classes, report = dcase2018_sources(
        args.events,
        args.backgrounds,
        args.sr,
        args.seed,
        args.val_fraction,
        args.test_fraction,
        verified_only=not args.all_labels,
    )
    print(f"sources: {report}")
    spec = BuildSpec(
        "overlapped", args.clips, args.seed, args.sr, 10.0, args.val_fraction, args.test_fraction, "dcase2018"
    )
    out = build_dataset(args.out, spec, sources=sources, classes=classes, workers=args.workers)
    print(f"{args.clips} clips written to {out}")
    return _report_problems(out)


def _import_desed(args: argparse.Namespace) -> int:
    from mtlsed.data.desed import import_desed

    report = import_desed(args.desed, args.out, args.val_fraction, args.seed)
    print(f"DESED imported into {args.out}: {report}")
    return _report_problems(args.out)


def _report_problems(root: Path) -> int:
    """The importers end with the validation `check` runs: 0 when clean, 1 with every problem listed."""
    from mtlsed.data.format import validate

    problems = validate(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {root}: fix them or the sources before training")
        return 1
    return 0


def _features(args: argparse.Namespace) -> int:
    from mtlsed.data.format import require_valid
    from mtlsed.features import build_feature_cache
    from mtlsed.profiles import config_from_args

    cfg, _ = config_from_args(args)
    require_valid(args.data_dir, cfg.data.clip_seconds, cfg.features.win_ms / 1000)
    start = time.perf_counter()
    cache = build_feature_cache(args.data_dir, cfg.features, cfg.data.clip_seconds, device=args.device)
    print(
        f"feature cache {cache.path} shape {tuple(cache.meta['shape'])} ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from mtlsed.data.format import validate

    problems = validate(args.data_dir, check_audio=not args.no_audio)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {args.data_dir}")
        return 1
    from mtlsed.data.format import read_info, short_clips

    if read_info(args.data_dir)["variable_length"]:
        short = short_clips(args.data_dir)
        print(f"variable-length set: {len(short)} clip(s) shorter than 10 s are zero-padded when read")
    print(f"{args.data_dir}: no problems found")
    return 0


def _split_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sub.add_argument("--val-fraction", type=float, default=0.1)
    sub.add_argument("--test-fraction", type=float, default=0.2)
    sub.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = add_command(subparsers, "synth", "mix a data set from the embedded synthetic sound set", _synth)
    sub.add_argument("out", type=Path, help="output dataset folder")
    sub.add_argument("--recipe", choices=["overlapped", "desed-like"], default="overlapped")
    sub.add_argument("--clips", type=int, required=True, help="number of clips")
    sub.add_argument("--sr", type=int, default=16000, help="sample rate in Hz (default 16000)")
    sub.add_argument("--clip-seconds", type=float, default=10.0)
    sub.add_argument(
        "--force", action="store_true", help="replace the audio and labels of a folder not made by synth"
    )
    _split_args(sub)

    sub = add_command(
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

    sub = add_command(
        subparsers,
        "import-desed",
        "turn a local DESED (DCASE 2020 task 4) copy into a dataset folder",
        _import_desed,
    )
    sub.add_argument("desed", type=Path, help="DESED root (with metadata/ and audio/)")
    sub.add_argument("out", type=Path, help="output dataset folder (audio is linked, not copied)")
    sub.add_argument("--val-fraction", type=float, default=0.1)
    sub.add_argument("--seed", type=int, default=0)

    sub = add_command(
        subparsers, "features", "build (or resume) the log-mel feature cache of a data set", _features
    )
    sub.add_argument("data_dir", type=Path)
    from mtlsed.profiles import add_config_arguments

    add_config_arguments(sub)
    sub.add_argument("--device", default="cpu")

    sub = add_command(subparsers, "check", "validate a dataset folder; exit 1 when it has problems", _check)
    sub.add_argument("data_dir", type=Path)
    sub.add_argument("--no-audio", action="store_true", help="do not check that audio files exist")
