"""Training: Adam (AdamW with ``train.weight_decay``) with step decay, per-term logging, atomic checkpoints,
exact resume, AMP and DDP.

The run folder (config, identity, classes, the clips learnt from, log, checkpoints) is read and written
through :class:`mtlsed.runs.runfolder.RunFolder`, whose lock keeps a second writer out while a run trains.

The batches of iteration ``it`` are a pure function of ``(train.seed, it)``
(a seeded permutation per epoch), and so are its augmentations (``mtlsed.features.augment``); the random state
is saved with the checkpoint, so a killed run resumed with ``--resume`` ends with exactly the
weights of an uninterrupted run on the CPU. With ``train.ema_decay`` the run validates and saves the
moving average of its weights (``mtlsed.training.ema``), and ``last.pt`` keeps the trained ones beside it.

Several processes (``torchrun --nproc_per_node N -m mtlsed train ...``) split
each global batch of ``train.batch_size`` clips between them and average their
gradients with DistributedDataParallel (NCCL on GPUs, gloo on CPUs). On GPUs
batch norm is synchronised, so N processes train as one with the global batch;
on CPUs (where PyTorch has no synchronised batch norm) each process normalises
with the statistics of its own share, a small difference.
"""

from __future__ import annotations

import os
import random
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from mtlsed.config.settings import Config
from mtlsed.core.allocator import keep_freed_memory
from mtlsed.core.devices import pick_device
from mtlsed.core.errors import UserError
from mtlsed.core.vocabulary import LOSS_TERMS, PAPER_LOSS_TERMS
from mtlsed.data.fingerprint import data_fingerprint
from mtlsed.data.format import read_dataset, require_valid
from mtlsed.data.hashes import audio_hashes
from mtlsed.evaluation.inference import outputs
from mtlsed.evaluation.ranking import at_map, sed_map
from mtlsed.features.dataset import SedDataset
from mtlsed.models import build_model
from mtlsed.objectives.total import total_loss
from mtlsed.runs.identity import differences, run_fingerprint
from mtlsed.runs.runfolder import RunDamaged, RunFolder
from mtlsed.runs.runinfo import progress_line
from mtlsed.training.ema import WeightAverage
from mtlsed.training.step import (
    make_optimizer,
    make_scaler,
    place_model,
    precision_context,
    random_state,
    restore_random_state,
    training_step,
)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds legacy global draws in user code too
    torch.manual_seed(seed)


def batch_indices(n_items: int, batch_size: int, seed: int, iteration: int) -> list[int]:
    """The clips of one iteration: epoch ``e`` is a permutation seeded by ``(seed, e)``, cut in batches."""
    per_epoch = n_items // batch_size
    if per_epoch == 0:
        raise UserError(f"batch size {batch_size} is larger than the training split ({n_items} clips)")
    epoch, j = divmod(iteration, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n_items)
    return order[j * batch_size : (j + 1) * batch_size].tolist()


class IterationBatches(torch.utils.data.Sampler):
    """Batch sampler from ``start`` to ``stop`` iterations; each rank takes its share of a batch."""

    def __init__(self, n_items, batch_size, seed, start, stop, rank=0, world=1):
        self.args = (n_items, batch_size, seed)
        self.start, self.stop, self.rank, self.world = start, stop, rank, world

    def __len__(self):
        return self.stop - self.start

    def __iter__(self):
        for it in range(self.start, self.stop):
            batch = batch_indices(*self.args, it)
            share = len(batch) // self.world
            yield batch[self.rank * share : (self.rank + 1) * share]


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def validate(model, dataset: SedDataset, cfg: Config, device) -> dict[str, float]:
    """Validation loss and mAPs (SED-mAP only when the split has strong labels)."""
    losses = []
    clip_all, frame_all = [], []
    for out, y in outputs(model, dataset, device, cfg.train.batch_size):
        losses.append(float(total_loss(out, y.to(device), cfg.loss).total) * len(y))
        clip_all.append(out.clip.float().cpu().numpy())
        frame_all.append(out.frame.float().cpu().numpy())
    clip, frame = np.concatenate(clip_all), np.concatenate(frame_all)
    result = {"val_loss": sum(losses) / len(dataset), "val_at_map": at_map(dataset.clip_labels, clip)}
    strong = np.flatnonzero(dataset.has_strong)
    if len(strong):
        labels = dataset.tensors()[2][strong].numpy()
        result["val_sed_map"] = sed_map(labels, frame[strong])
    else:
        result["val_sed_map"] = float("nan")
    model.train()
    return result


@contextmanager
def cpu_threads(n: int):
    """Use ``n`` intra-op threads inside the block (0: leave PyTorch's setting), restored afterwards.

    One thread is the default on CPU: on a 2-core machine PyTorch's two threads are at most 1.3x faster
    when the machine is idle, and 5-40x slower as soon as anything else runs (the depthwise convolution's
    backward pass stalls); grids get both cores back by training two runs at once (``--jobs``).
    """
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def frozen_batch_norm(model):
    """Batch norm of ``model`` in eval mode inside the block (running statistics left as they are)."""
    norms = [
        m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training
    ]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m in norms:
            m.train()


def _judge(net, cfg: Config, mean, std, device):
    """The detector as the judge of its own separated sources (``loss.judge_weight``): raw separated inputs
    ``(B, A, T, F)`` -> clip probabilities ``(B, A, K)``. Its batch norm keeps the mixtures' statistics:
    separated sources are not what the running statistics should describe."""
    from mtlsed.features.normalise import normalise

    def judge(separated):
        b, a = separated.shape[:2]
        x = normalise(separated.flatten(0, 1), cfg.features, mean, std)
        with frozen_batch_norm(net), precision_context(device, cfg.train.amp):
            return net(x).clip.float().view(b, a, -1)

    return judge


def mean_over_processes(values: dict[str, float], device: torch.device, world: int) -> dict[str, float]:
    """The mean of each value over the ``world`` processes of a DDP run. The operand lives on the run's
    ``device``: NCCL (CUDA) reduces only CUDA tensors, where gloo (the CPU tests) takes any."""
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(values, (t / world).tolist(), strict=True))


def _best_key(cfg: Config, val: SedDataset) -> tuple[str, float]:
    """(log column, sign) of the metric that selects ``best.pt``; larger ``sign * value`` is better."""
    name = cfg.train.best_metric
    if name == "auto":
        name = "sed_map" if val.has_strong.any() else "at_map"
    if name == "sed_map" and not val.has_strong.any():
        raise UserError("train.best_metric=sed_map needs strong labels in the validation split")
    return ("val_loss", -1.0) if name == "loss" else (f"val_{name}", 1.0)


def train(
    data_dir: str | Path,
    cfg: Config,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool | None = None,
) -> Path:
    """Train ``cfg.model`` on the train split of ``data_dir`` into ``run_dir``; returns ``run_dir``.

    On CPU it runs with ``train.threads`` intra-op threads and, with ``train.amp``, bfloat16 autocast.
    """
    on_cpu = pick_device(cfg.train.device).type == "cpu"
    if on_cpu:
        # activations reused on the heap, not mapped afresh each step (mtlsed.core.allocator)
        keep_freed_memory()
    with cpu_threads(cfg.train.threads if on_cpu else 0):
        return _train(data_dir, cfg, run_dir, resume, progress)


def _check_fits(cfg: Config, index) -> None:
    """Settings that depend on the data set: checked before any feature work."""
    n_classes, n_train = len(index.classes), len(index.files_in("train"))
    if cfg.loss.selection == "topk" and cfg.loss.segment_weight + cfg.loss.silent_weight > 0:
        if cfg.loss.topk > n_classes:
            raise UserError(
                f"loss.topk: must be at most the number of classes ({n_classes}), got {cfg.loss.topk}"
            )
    batch_indices(n_train, cfg.train.batch_size, 0, 0)  # raises when the batch is larger than the split


def check_run_dir(run: RunFolder, identity: dict, resume: bool) -> None:
    """Refuse to mix two runs in one folder, naming what differs.

    A folder with no checkpoint yet (a run that failed before its first one) is started afresh.
    """
    if not run.has_checkpoint("last"):
        return
    saved = run.identity()
    if not resume:
        raise UserError(f"{run.path} already holds a run; use --resume to continue it, or another folder")
    if saved is None:
        raise RunDamaged(
            f"{run.file('identity.json')}: missing; the run cannot be checked for --resume: train it again "
            "into a new folder"
        )
    if saved["digest"] != identity["digest"]:
        what = "; ".join(differences(saved, identity))
        raise UserError(f"{run.path}: --resume with other settings than the run was started with: {what}")


def learnt_clips(index) -> dict[str, dict[str, str]]:
    """``{split: {filename: sha256 of its audio}}`` of the train and val splits (``RunFolder.start``)."""
    audio = index.root / "audio"
    return {split: audio_hashes(index.root, index.files_in(split), audio) for split in ("train", "val")}


def _train(data_dir, cfg: Config, run_dir, resume: bool, progress: bool | None) -> Path:
    run = RunFolder(run_dir)
    data_dir = Path(data_dir).resolve()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(cfg.train.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if cfg.train.batch_size % world:
            raise UserError(f"train.batch_size {cfg.train.batch_size} is not divisible by {world} processes")
    # every problem `mtlsed check` finds stops the run here, in seconds, before any feature work
    require_valid(data_dir, cfg.data.clip_seconds, cfg.features.win_ms / 1000)
    index = read_dataset(data_dir)
    _check_fits(cfg, index)
    identity = run_fingerprint(cfg.to_dict(), data_fingerprint(data_dir, index))
    with run.writing("train") if rank == 0 else nullcontext():
        check_run_dir(run, identity, resume)
        return _train_locked(run, data_dir, index, cfg, identity, resume, progress, device, rank, world)


def _train_locked(run: RunFolder, data_dir, index, cfg, identity, resume, progress, device, rank, world):
    distributed, is_main = world > 1, rank == 0
    seed_everything(cfg.train.seed)
    train_set = SedDataset(data_dir, cfg, "train", index=index)
    val_set = SedDataset(data_dir, cfg, "val", cache=train_set.cache, index=index)
    n_mels = train_set.cache.meta["shape"][2]
    model = place_model(build_model(cfg.model, len(train_set.classes), n_mels), device, cfg.train.amp)
    optimizer = make_optimizer(model, cfg.train)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg.train.lr_decay_every, cfg.train.lr_decay)
    scaler = make_scaler(device, cfg.train.amp)
    best_col, sign = _best_key(cfg, val_set)

    # the weights validated and saved as the run's model: the trained ones, or their moving average
    average = WeightAverage(model, cfg.train.ema_decay) if cfg.train.ema_decay > 0 else None
    evaluated = average.model if average else model

    start, best = 0, -float("inf")
    if resume and run.has_checkpoint("last"):
        state = run.load_checkpoint("last")  # to the CPU; load_state_dict copies to the run's device
        model.load_state_dict(state["trained"] if average else state["model"])
        if average:  # the average is the run's model; its warm-up goes on from where it stopped
            average.model.load_state_dict(state["model"])
            average.updates = state["average_updates"]
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        restore_random_state(state, device)
        start, best = state["iteration"], state["best"]
    if is_main:
        run.start(cfg, identity, train_set.classes, data_dir, learnt_clips(index))
    rows = run.read_log(start) if is_main else []
    if distributed:
        if device.type == "cuda":  # batch statistics over the global batch, as in one process
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.nn.parallel.DistributedDataParallel(model)

    iterations = cfg.train.iterations
    sampler = IterationBatches(
        len(train_set), cfg.train.batch_size, cfg.train.seed, start, iterations, rank, world
    )
    augment, uses_raw = cfg.augment.enabled(), cfg.augment.enabled() or cfg.loss.uses_input()
    if uses_raw:  # raw log-mel, augmented per batch, then normalised (features.augment, features.normalise)
        from mtlsed.features.augment import augment_batch, batch_generator
        from mtlsed.features.normalise import normalise

        features, clip_labels = train_set.raw_features(), train_set.tensors()[1]
        mean, std = (torch.from_numpy(s) for s in train_set.norm_stats())
        judge = _judge(_unwrap(model), cfg, mean.to(device), std.to(device), device)
    else:  # bit-identical to a run without augmentation: the normalised split, indexed per batch
        features, clip_labels, _ = train_set.tensors()
        judge = None
    tty = sys.stderr.isatty()
    show = is_main and (tty if progress is None else progress)
    # not on a terminal (nohup, a scheduler, CI, a log file): a line every 5% instead of a bar
    line_every = max(1, iterations // 20) if is_main and progress is None and not tty else 0
    sums = dict.fromkeys(("total", *LOSS_TERMS), 0.0)
    count = 0
    tic = time.perf_counter()
    model.train()
    bar = tqdm(total=iterations, initial=start, disable=not show, desc="training", unit="it")
    raw = None
    for it, batch in enumerate(sampler, start=start + 1):
        if uses_raw:  # the global batch, augmented as one process would, then this process's share of it
            whole = batch_indices(len(train_set), cfg.train.batch_size, cfg.train.seed, it - 1)
            x, y = features[whole], clip_labels[whole]
            if augment:
                x, y = augment_batch(
                    x, y, cfg.augment, batch_generator(cfg.train.seed, it), train_set.grid.hop_s
                )
            share = slice(rank * len(batch), (rank + 1) * len(batch))
            raw, y = x[share].to(device), y[share]
            x = normalise(raw, cfg.features, mean.to(device), std.to(device))
        else:
            x, y = features[batch], clip_labels[batch]
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        terms = training_step(
            model,
            optimizer,
            scaler,
            x,
            y,
            cfg.loss,
            amp=cfg.train.amp,
            raw=raw,
            judge=judge,
            log_eps=cfg.features.log_eps,
        )
        scheduler.step()
        if average:
            average.update(_unwrap(model))
        for k, v in terms.as_dict().items():
            sums[k] += v
        count += 1
        bar.update()
        if line_every and (it % line_every == 0 or it == iterations):
            shown = {k: v for k, v in terms.as_dict().items() if k in ("total", *PAPER_LOSS_TERMS) or v}
            progress_line(it, start, iterations, shown, time.perf_counter() - tic)
        if it % cfg.train.eval_every and it != iterations:
            continue
        means = {k: v / count for k, v in sums.items()}
        if distributed:
            means = mean_over_processes(means, device, world)
        if is_main:
            val = validate(evaluated, val_set, cfg, device)
            row = {
                "iteration": it,
                "epoch": round(it * cfg.train.batch_size / len(train_set), 3),
                "lr": scheduler.get_last_lr()[0],
                "loss": means["total"],
                **{k: means[k] for k in LOSS_TERMS},
                **val,
                "seconds": round(time.perf_counter() - tic, 2),
            }
            rows.append(row)
            run.write_log(rows)
            value = sign * row[best_col]
            if value > best:
                best = value
                run.save_checkpoint(
                    "best", {"model": evaluated.state_dict(), "iteration": it, best_col: row[best_col]}
                )
            resumable = (
                {"trained": _unwrap(model).state_dict(), "average_updates": average.updates}
                if average
                else {}
            )
            run.save_checkpoint(
                "last",
                {
                    "model": evaluated.state_dict(),
                    **resumable,
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    **random_state(device),
                    "iteration": it,
                    "best": best,
                },
            )
            bar.set_postfix(loss=f"{means['total']:.3f}", **{best_col: f"{row[best_col]:.3f}"})
        if distributed:
            dist.barrier()
        sums = dict.fromkeys(sums, 0.0)
        count = 0
    bar.close()
    if distributed:
        dist.barrier()
    return run.path
