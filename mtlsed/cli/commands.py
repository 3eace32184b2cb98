"""The subcommands of ``mtlsed``: their arguments and the calls they make into the library.

This is the CLI side: the library modules (``train``, ``evaluate``, ``experiments``, ``data``...)
know nothing of argparse. :data:`COMMANDS` lists every subcommand in help order; ``mtlsed.cli.main``
builds the parser from it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mtlsed.config.profiles import DEFAULT_PROFILE, available_profiles, load_profile, require_sound
from mtlsed.core.errors import UserError

# -- shared arguments -----------------------------------------------------------------


def ranged(kind: type, low: float | None = None, high: float | None = None, open_low=False, open_high=False):
    """An argparse ``type`` that parses ``kind`` and checks its range before any work starts."""
    name = "an integer" if kind is int else "a number"
    parts = []
    if low is not None:
        parts.append(f"{'greater than' if open_low else 'at least'} {low:g}")
    if high is not None:
        parts.append(f"{'less than' if open_high else 'at most'} {high:g}")
    allowed = " and ".join(parts)

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
        too_low = low is not None and (value < low or (open_low and value == low))
        too_high = high is not None and (value > high or (open_high and value == high))
        if value != value or too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


FRACTION = ranged(float, 0, 1, open_high=True)
SEED = ranged(int, 0)
COUNT = ranged(int, 1)
RATE = ranged(int, 1000, 384000)


def check_fractions(val_fraction: float, test_fraction: float, n_clips: int) -> None:
    """The split of ``n_clips`` (:func:`mtlsed.data.splits.split_sizes`) has training and validation clips.

    Each fraction is below 1 (:data:`FRACTION`), so a share of the clips always trains; a small set may
    still round it, or the validation split, to nothing.
    """
    from mtlsed.data.splits import split_sizes

    sizes = split_sizes(n_clips, val_fraction, test_fraction)
    if sizes["train"] < 1 or (val_fraction > 0 and sizes["val"] < 1):
        raise UserError(
            f"--clips {n_clips} with --val-fraction {val_fraction:g} and --test-fraction "
            f"{test_fraction:g} leaves {sizes['train']} training and {sizes['val']} validation clip(s); "
            "training needs both"
        )


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
    from mtlsed.config.settings import ConfigError, load_config
    from mtlsed.core.yamlio import read_yaml

    profile, config = args.profile, args.config
    if config and not profile:
        data = read_yaml(config) if Path(config).is_file() else None
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
    return require_sound(cfg), source


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


def _print_caveats(root: Path, check_audio: bool = True) -> None:
    """The warnings of :mod:`mtlsed.data.caveats` (labels the audio cannot hold, a validation split without
    a positive), counted; they leave the exit code as it is."""
    from mtlsed.data.caveats import caveats

    found = caveats(root, check_audio)
    for text in found:
        print(f"warning: {text}")
    if found:
        print(f"{len(found)} warning(s) in {root}")


def _report_problems(root: Path) -> int:
    """The importers end with the validation `check` runs: 0 when clean, 1 with every problem listed."""
    from mtlsed.data.format import validate

    problems = validate(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {root}: fix them or the sources before training")
        return 1
    _print_caveats(root)
    print(f"{root}: checked as `mtlsed check` does, no problems found")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from mtlsed.data.build import BuildSpec, build_dataset, split_counts
    from mtlsed.data.format import read_split

    check_fractions(args.val_fraction, args.test_fraction, args.clips)
    spec = BuildSpec(
        args.recipe, args.clips, args.seed, args.sr, args.clip_seconds, args.val_fraction,
        args.test_fraction, "embedded",
    )  # fmt: skip
    start = time.perf_counter()
    out = build_dataset(args.out, spec, workers=args.workers, force=args.force)
    counts = split_counts(read_split(out / "split.tsv"))
    print(f"{args.clips} clips ({counts}) written to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _download(args: argparse.Namespace) -> int:
    from mtlsed.data.download import download, format_listing

    if args.list:
        print(format_listing(args.name, args.to))
        return 0
    download(args.name, args.to, parts=args.parts, mirror=args.mirror, keep_archives=args.keep_archives)
    return 0


def _mix_dcase2018(args: argparse.Namespace) -> int:
    from mtlsed.data.build import BuildSpec, build_dataset
    from mtlsed.data.dcase2018 import dcase2018_sources
    from mtlsed.data.importer import dataset_report

    check_fractions(args.val_fraction, args.test_fraction, args.clips)
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
    from mtlsed.data.groups import read_groups
    from mtlsed.data.importer import SourceSet, import_sets

    if args.group_keys and not args.groups:
        raise UserError("--group-keys needs --groups FILE (the JSON file the keys are read from)")
    groups = read_groups(args.groups, args.group_keys) if args.groups else None
    train = SourceSet.folder(args.src, args.audio)
    test = SourceSet.folder(args.test, args.test_audio) if args.test else None
    report = import_sets(
        train, args.out, test, args.val_fraction, args.test_fraction, args.seed, copy=args.copy,
        groups=groups, group_rule=args.group_rule, val_strong=args.val_strong, crop_long=args.crop_long,
        stratify=args.stratify,
    )  # fmt: skip
    print(report)
    return _report_problems(args.out)


def _import_desed(args: argparse.Namespace) -> int:
    from mtlsed.data.desed import import_desed

    report = import_desed(args.desed, args.out, args.val_fraction, args.seed, copy=args.copy)
    print(f"DESED imported: {report}")
    return _report_problems(args.out)


def _features(args: argparse.Namespace) -> int:
    from mtlsed.core.devices import pick_device
    from mtlsed.data.format import require_valid
    from mtlsed.features.cache import build_feature_cache

    cfg, _ = config_from_args(args)
    device = pick_device(args.device)  # a device that is not there: a message before any work
    require_valid(args.data_dir, cfg.data.clip_seconds, cfg.features.win_ms / 1000)
    start = time.perf_counter()
    cache = build_feature_cache(args.data_dir, cfg.features, cfg.data.clip_seconds, device=device)
    print(
        f"feature cache {cache.path} shape {tuple(cache.meta['shape'])} ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from mtlsed.data.format import clip_lengths, read_info, validate

    problems = validate(args.data_dir, check_audio=not args.no_audio)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {args.data_dir}")
        return 1
    info = read_info(args.data_dir)
    if (info["variable_length"] or info["crop_long"]) and not args.no_audio:
        lengths = clip_lengths(args.data_dir)
        if info["variable_length"]:
            print(f"variable-length set: {len(lengths['short'])} clip(s) shorter than 10 s are zero-padded")
        if info["crop_long"]:
            print(f"crop_long set: {len(lengths['long'])} clip(s) longer than 10 s are cut to 10 s when read")
    _print_caveats(args.data_dir, check_audio=not args.no_audio)
    print(f"{args.data_dir}: no problems found")
    return 0


def _split_args(sub: argparse.ArgumentParser, val_fraction: float, test: bool = True) -> None:
    """``--seed``, ``--val-fraction`` (one meaning for every command: :func:`mtlsed.data.splits.split_sizes`)
    and ``--test-fraction``."""
    from mtlsed.data.splits import TEST_FRACTION

    sub.add_argument("--seed", type=SEED, default=0, help="random seed of the split (default 0)")
    of = "of the clips that are not test clips" if test else "of the training clips (the test split is given)"
    sub.add_argument(
        "--val-fraction", type=FRACTION, default=val_fraction, help=f"{of} (default {val_fraction:g})"
    )
    if test:
        sub.add_argument(
            "--test-fraction",
            type=FRACTION,
            default=TEST_FRACTION,
            help=f"of all the clips, held out for test (default {TEST_FRACTION:g})",
        )


def _import_out_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("out", type=Path, help="output dataset folder (audio is linked, not copied)")
    sub.add_argument("--copy", action="store_true", help="copy the audio instead of linking it")


def _add_data_commands(subparsers, add) -> None:
    from mtlsed.data.splits import IMPORT_VAL_FRACTION, MIXED_VAL_FRACTION

    sub = add(subparsers, "synth", "mix a data set from the embedded synthetic sound set", _synth)
    sub.add_argument("out", type=Path, help="output dataset folder")
    sub.add_argument("--recipe", choices=["overlapped", "desed-like"], default="overlapped")
    sub.add_argument("--clips", type=COUNT, required=True, help="number of clips")
    sub.add_argument("--sr", type=RATE, default=16000, help="sample rate in Hz (default 16000)")
    sub.add_argument("--clip-seconds", type=ranged(float, 1, 600), default=10.0, help="1 to 600 (default 10)")
    sub.add_argument(
        "--force", action="store_true", help="replace the audio and labels of a folder not made by synth"
    )
    _split_args(sub, MIXED_VAL_FRACTION)
    sub.add_argument("--workers", type=COUNT, default=None, help="processes (default: all cores)")

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
    _split_args(sub, IMPORT_VAL_FRACTION)
    sub.add_argument(
        "--groups",
        type=Path,
        help="each clip's sources (recording, device, session, site): a TSV filename<TAB>groups "
        "(comma-separated) or a JSON file of per-clip records with --group-keys; whole groups are held out "
        "for test and validation",
    )
    sub.add_argument(
        "--group-keys",
        nargs="+",
        metavar="KEY",
        help="the fields of a JSON groups file that name a clip's sources (dotted paths, e.g. "
        "events.source background)",
    )
    sub.add_argument(
        "--group-rule",
        choices=["all", "connected"],
        default="all",
        help="connected: clips that share a source stay together (never drops a clip; fails when that "
        "joins too many); all (default): the same when possible, else every source of a kept clip is in "
        "its split and clips whose sources straddle two splits are dropped and counted",
    )
    sub.add_argument(
        "--stratify",
        action="store_true",
        help="spread every class over the splits drawn here (validation, and test unless --test) in "
        "proportion to their sizes, by the weak labels, so a class's share of a held-out split does not "
        "rest on the draw; with --groups more clips whose sources straddle two splits may be dropped "
        "(the report counts them), and where whole sources cannot be spread the split is made without it "
        "and the report says so",
    )
    sub.add_argument(
        "--val-strong",
        action="store_true",
        help="keep the strong labels of the validation clips (then post-processing is chosen on them)",
    )
    sub.add_argument(
        "--crop-long",
        action="store_true",
        help="use the first clip-length seconds of a clip that is longer (default: such clips are skipped)",
    )

    sub = add(
        subparsers,
        "download",
        "download, verify and unpack a public data set of the paper (resumable; rerun to continue)",
        _download,
    )
    sub.add_argument(
        "name",
        metavar="NAME",
        help="tut2018-dev (DCASE 2018 task 1 backgrounds, 21.4 GB), fsd2018 (task 2 events, FSDKaggle2018) "
        "or desed (prints how to get it)",
    )
    sub.add_argument(
        "--to", type=Path, required=True, metavar="DIR",
        help="folder to unpack into (the set's folder inside it is printed)",
    )  # fmt: skip
    sub.add_argument(
        "--parts",
        nargs="+",
        metavar="P",
        help="only these archives: part ids or names as --list shows (tut2018-dev: 1..13, doc, meta); "
        "meta is always fetched",
    )
    sub.add_argument("--list", action="store_true", help="show the archives, sizes, checksums and state")
    sub.add_argument(
        "--mirror",
        metavar="URL",
        help="a base URL serving the archives by file name (default: $MTLSED_DOWNLOAD_MIRROR, else Zenodo)",
    )
    sub.add_argument(
        "--keep-archives", action="store_true", help="keep each zip after unpacking (default: remove it)"
    )

    sub = add(
        subparsers,
        "mix-dcase2018",
        "mix the paper's overlapped set from local DCASE 2018 task 2 and task 1 copies",
        _mix_dcase2018,
    )
    sub.add_argument("--events", type=Path, required=True, help="FSDKaggle2018 folder (task 2)")
    sub.add_argument("--backgrounds", type=Path, required=True, help="TUT Urban Acoustic Scenes 2018 folder")
    sub.add_argument("out", type=Path, help="output dataset folder")
    sub.add_argument("--clips", type=COUNT, default=8000, help="number of clips (paper: 8000)")
    sub.add_argument("--sr", type=RATE, default=32000, help="sample rate in Hz (default 32000)")
    sub.add_argument("--all-labels", action="store_true", help="also use clips not manually verified")
    _split_args(sub, MIXED_VAL_FRACTION)
    sub.add_argument("--workers", type=COUNT, default=None, help="processes (default: all cores)")

    sub = add(
        subparsers,
        "import-desed",
        "turn a local DESED (DCASE 2020 task 4) copy into a dataset folder",
        _import_desed,
    )
    sub.add_argument("desed", type=Path, help="DESED root (with metadata/ and audio/)")
    _import_out_args(sub)
    _split_args(sub, IMPORT_VAL_FRACTION, test=False)

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

    from mtlsed.data.caveats import require_selectable
    from mtlsed.experiments.datasets import data_for
    from mtlsed.runs.runinfo import describe_run, run_summary
    from mtlsed.training.train import train

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out: {args.out} is a file, not a run folder; give a folder (a new one to start)")
    if args.resume and not Path(args.out).is_dir():  # a mistyped --out would silently train from zero
        raise UserError(f"--resume: {args.out} does not exist, so there is no run to continue; check --out")
    cfg, source = config_from_args(args)
    main = int(os.environ.get("RANK", "0")) == 0
    data, profile = data_of(args), None
    if data is None and not args.config:  # the embedded set of the profile the config came from
        profile = load_profile(args.profile or DEFAULT_PROFILE)
    data = data_for(profile, 1, data, Path.cwd())
    if Path(args.out).resolve() == Path(data).resolve():  # the run's files would overwrite the set's
        raise UserError(f"--out: {args.out} is the data set's own folder; give a folder for the run")
    require_selectable(data, cfg.train.best_metric)  # before any work, not after the last iteration
    if main:
        print(run_summary(cfg, source) + f"\ndata: {data}", file=sys.stderr, flush=True)
    train(data, cfg, args.out, resume=args.resume)
    if main:
        print(f"run saved in {args.out}: {describe_run(args.out)}")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mtlsed.evaluation.evaluate import evaluate_run, metrics_path
    from mtlsed.evaluation.inference import trained_on
    from mtlsed.experiments.datasets import data_for
    from mtlsed.runs.runinfo import format_metrics

    if args.shifts:  # every channel name checked before anything is scored or written
        from mtlsed.data.shift import check_transform

        for name in args.shifts:
            check_transform(name)
    data = data_for(None, 1, data_of(args)) if data_of(args) else trained_on(args.run_dir)
    metrics = evaluate_run(args.run_dir, data, args.split, args.checkpoint)
    print(format_metrics(metrics))
    print(f"written to {metrics_path(args.run_dir, args.split)}")
    if args.shifts:
        from mtlsed.evaluation.evaluate import evaluate_shifted
        from mtlsed.experiments.tables import markdown_shifted

        results = evaluate_shifted(
            args.run_dir, data, args.shifts, args.shift_seed, args.split, args.checkpoint
        )
        print(f"\nThe {args.split} clips as they are and through other channels (seed {args.shift_seed}):\n")
        print(markdown_shifted({"this run": results}))
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from mtlsed.core.vocabulary import HEADLINE
    from mtlsed.experiments.reproduce import reproduce
    from mtlsed.experiments.tables import markdown_table, markdown_weights

    result = reproduce(
        args.table, args.profile, data_of(args), args.out, args.embedded_dir, args.rows, jobs=args.jobs
    )
    print(markdown_table(result.entries, HEADLINE))
    if result.weights and args.table == 1:
        print("\nAuxiliary weights scored on the validation split:\n" + markdown_weights(result.weights))
    if args.table == 3:
        print("\n" + (result.grid / "table3_choices.md").read_text())
    for key, rows in result.comparisons.items():
        verdicts = ", ".join(f"{r['metric']} {r['verdict']}" for r in rows if r["metric"] in HEADLINE)
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
    sub.add_argument(
        "--shifts",
        nargs="+",
        metavar="CHANNEL",
        help="also score the split through other channels (mtlsed.data.shift: mic, eq, room, codec, noise), "
        "made once beside the data in DATA/shifted/, and print clean and shifted side by side",
    )
    sub.add_argument("--shift-seed", type=SEED, default=0, help="seed of the shifted channels (default 0)")

    what = "run the grid of Table 1 or 2 (the paper's) or 3 (mask constraints) under a profile"
    sub = add(subparsers, "reproduce", what, _reproduce)
    sub.add_argument(
        "--table", type=int, choices=[1, 2, 3], required=True,
        help="1, 2: the paper's tables; 3: mask constraints side by side (beyond the paper)",
    )  # fmt: skip
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
        "--jobs", type=COUNT, help="runs trained at once (default: one per CPU core, one on a GPU)"
    )


# -- config, book -----------------------------------------------------------------------


def _config(args: argparse.Namespace) -> int:
    cfg, source = config_from_args(args)
    print(f"# {source}")
    print(cfg.to_yaml(), end="")
    return 0


def _book(args: argparse.Namespace) -> int:
    from mtlsed.book.build import build_book, refresh_notebooks

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
        help="rebuild notebooks/*.ipynb from their twins and execute them with their defaults (profile cpu)",
    )


# -- Ctrl-C ------------------------------------------------------------------------------


def _train_kept(args: argparse.Namespace) -> str:
    from mtlsed.runs.runfolder import RunFolder

    run = RunFolder(args.out)
    try:
        info = run.checkpoint_info("last") if run.has_checkpoint("last") else None
    except UserError:
        info = None
    if info is None:
        return f"no checkpoint was written yet in {args.out}; run the same command again to start over"
    return (
        f"the checkpoint of iteration {info['iteration']} is kept in {args.out}; "
        "continue with the same command and --resume"
    )


AGAIN = "run the same command again to continue"
INTERRUPTED: dict[str, Callable[[argparse.Namespace], str]] = {
    "train": _train_kept,
    "evaluate": lambda a: f"nothing was written (the metrics come last); {AGAIN}",
    "features": lambda a: f"the clips done are kept in the cache's .partial folder; {AGAIN}",
    "reproduce": lambda a: f"finished runs are kept, started ones resume from their last checkpoint; {AGAIN}",
    "book": lambda a: f"executed notebooks and finished runs are kept; {AGAIN}",
    "synth": lambda a: f"the clips written are kept; {AGAIN}",
    "download": lambda a: f"finished archives are kept; a cut one continues where it stopped; {AGAIN}",
    "mix-dcase2018": lambda a: f"the clips written are kept; {AGAIN}",
}


def interrupted_line(args: argparse.Namespace) -> str:
    """What a Ctrl-C left behind and how to go on, for the command ``args`` ran."""
    hint = INTERRUPTED.get(args.command)
    return hint(args) if hint else f"nothing half-written is kept; {AGAIN}"


Adder = Callable[..., argparse.ArgumentParser]
COMMANDS: list[Callable[[argparse._SubParsersAction, Adder], None]] = [
    _add_data_commands,
    _add_run_commands,
    _add_other_commands,
]
