"""The shared bi-level search loop (first order, second order, single level, stages) for every variant.

`search()` is a generator: one record per epoch with the indicators (losses, accuracies, the
zero-one loss, the parsed genotype, skip counts, weight entropy / near-0-1 fraction, the
discretization gap, optionally the Hessian's dominant eigenvalue) and the activated weights.
A variant's stage plan runs stage after stage, each on a supernet built for it; a regularizer's
stop rule may end the search early (the last record then holds `stop_epoch` and `stop_genotype`, the
architecture the search returns); the loop checkpoints after each epoch, and resume=True continues to
exactly the uninterrupted result, across stage boundaries too.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .allocator import keep_freed_memory
from .checkpoint import load_checkpoint, save_checkpoint
from .data import NO_AUGMENT, Augment, Batches, ImageSet, search_split
from .genotype import Genotype
from .indicators import param_free_fraction, supernet_accuracy, weight_indicators
from .search_config import SearchConfig
from .search_run import SearchRun, StepResult
from .variant import Progress, Variant

# ----- the loop ---------------------------------------------------------------------------------
ParseSpec = tuple[str, str, float]  # (label, parse method, threshold)
OnStep = Callable[[int, int, int], None]  # (step, steps, images so far) after every step of an epoch


def tune_for(device: torch.device, fast: bool) -> None:
    """Process settings for the loops on `device`: cuDNN picks its fastest kernels for the fixed shapes
    (CUDA); glibc keeps freed memory on the CPU fast path (`keep_freed_memory`)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    elif fast:
        keep_freed_memory()


def search(variant: Variant, train_set: ImageSet, config: SearchConfig, device: torch.device | str = "cpu",
           out_dir: str | Path | None = None, resume: bool = False, parses: Sequence[ParseSpec] = (),
           on_step: OnStep | None = None) -> Iterator[dict[str, Any]]:
    """Search with `variant` in config.space; yield one record per epoch (see the module docstring).

    parses: extra parse settings applied to every epoch's weights; each epoch's record["parses"][label]
    holds that parse's genotype, skip counts, parameter-free fraction and discretization gap.
    on_step(step, steps, images): called after every step of an epoch (progress displays).
    The CPU fast path (config.fast) sets glibc malloc to keep freed memory for this process."""
    run = SearchRun(variant, config, device)
    tune_for(run.device, config.fast)
    batches = SearchBatches.split(train_set, config, run.device)
    total_epochs = sum(s.epochs for s in run.stages)
    ckpt_path = Path(out_dir) / "checkpoint.pt" if out_dir is not None else None
    state, first = None, 0
    if resume and ckpt_path is not None and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, kind="search")
        try:
            first = run.resume_plan(state)
        except ValueError as err:
            raise ValueError(f"{ckpt_path}: {err}") from None
        for record in run.history:
            yield dict(record, resumed=True)
        if run.history and "stop_epoch" in run.history[-1]:
            return  # the search had stopped early

    for s in range(run.stage, len(run.stages)):
        run.start_stage(train_set.num_classes, s)
        if state is not None:
            run.load_state(state)
            state = None
        stage = run.stages[s]
        done_before = sum(st.epochs for st in run.stages[:s])
        for e in range(first, stage.epochs):
            progress = Progress(s, len(run.stages), done_before + e, total_epochs, e, stage.epochs)
            record = run_epoch(run, batches, progress, parses, on_step)
            run.scheduler.step()
            record["cells"] = stage.cells
            run.history.append(record)
            stop = run.stop_epoch()
            if stop is not None:  # a regularizer's stop rule: the search returns the architecture of epoch `stop`
                record["stop_epoch"] = stop
                record["stop_genotype"] = next(r["genotype"] for r in run.history if r["epoch"] == stop)
            if ckpt_path is not None:
                save_checkpoint(ckpt_path, run.state_dict(e))
            yield dict(record)  # a copy: the caller may reshape it, the history keeps it whole
            if stop is not None:
                return
        run.end_stage()
        first = 0


@dataclass
class SearchBatches:
    """A search's images: the weight half's batches, the arch half's, and the fixed gap images."""

    train: Batches
    val: Batches
    gap: list[tuple[torch.Tensor, torch.Tensor]]

    @classmethod
    def split(cls, train_set: ImageSet, config: SearchConfig, device: torch.device) -> SearchBatches:
        """The first config.train_limit images (0: all), split into the weight and the arch half."""
        if config.train_limit:
            train_set = train_set.subset(slice(0, config.train_limit))
        weight_set, arch_set = search_split(train_set, config.train_portion)
        augment = Augment()
        train = Batches(weight_set, config.batch_size, device, augment, seed=config.seed,
                        channels_last=config.channels_last, drop_last=True)
        val = Batches(arch_set, config.batch_size, device, augment, seed=config.seed + 1,
                      channels_last=config.channels_last, drop_last=True)
        gap_set = arch_set.subset(slice(0, config.gap_images))
        gap = list(Batches(gap_set, max(config.batch_size, 64), device, NO_AUGMENT, shuffle=False,
                           channels_last=config.channels_last).epoch(0))
        return cls(train, val, gap)

    def val_stream(self, epoch: int) -> Iterator:
        """Val batches for the arch steps: this epoch's permutations, repeated if the val half is smaller."""
        return itertools.chain.from_iterable(self.val.epoch(epoch * 1000 + k) for k in itertools.count())


@dataclass
class Tally:
    """An epoch's summed losses and correct predictions, kept on the device (no sync per step)."""

    sums: dict[str, torch.Tensor]
    n_train: int = 0
    n_val: int = 0

    @classmethod
    def zeros(cls, device: torch.device) -> Tally:
        return cls({k: torch.zeros((), device=device) for k in ("train_loss", "train_correct", "val_loss",
                                                                 "val_correct")})

    def add(self, result: StepResult, y_t: torch.Tensor, y_v: torch.Tensor | None) -> None:
        if result.val_loss is not None:
            self.sums["val_loss"] += result.val_loss * y_v.numel()
            self.sums["val_correct"] += (result.val_logits.argmax(1) == y_v).sum()
            self.n_val += y_v.numel()
        self.sums["train_loss"] += result.train_loss * y_t.numel()
        self.sums["train_correct"] += (result.train_logits.argmax(1) == y_t).sum()
        self.n_train += y_t.numel()

    def means(self) -> dict[str, float]:
        """Mean losses and accuracies (%); the val ones NaN when the epoch took no arch step."""
        sums, n_train, n_val = self.sums, self.n_train, self.n_val
        return {
            "train_loss": sums["train_loss"].item() / max(n_train, 1),
            "train_acc": 100.0 * sums["train_correct"].item() / max(n_train, 1),
            "val_loss": sums["val_loss"].item() / n_val if n_val else math.nan,
            "val_acc": 100.0 * sums["val_correct"].item() / n_val if n_val else math.nan,
        }


def run_epoch(run: SearchRun, batches: SearchBatches, progress: Progress, parses: Sequence[ParseSpec] = (),
              on_step: OnStep | None = None) -> dict[str, Any]:
    """Train one epoch with the variant's hooks armed, then measure the indicators; the record."""
    began = time.perf_counter()
    run.progress = progress
    handles = run.variant.hooks(run.model, progress)
    try:
        tally = train_epoch(run, batches, progress, on_step)
        record = epoch_record(run, progress, tally, batches.gap, parses)
    finally:
        for handle in handles:
            handle.remove()
    record["seconds"] = time.perf_counter() - began
    return record


def train_epoch(run: SearchRun, batches: SearchBatches, progress: Progress, on_step: OnStep | None) -> Tally:
    """The epoch's steps: each weight batch with a val batch (none in warm-up or single-level epochs)."""
    run.model.train()
    tally = Tally.zeros(run.device)
    steps_arch = not run.config.single_level and run.variant.arch_step(progress)
    val_stream = batches.val_stream(progress.epoch)
    steps = len(batches.train)
    for step, train_xy in enumerate(batches.train.epoch(progress.epoch), 1):
        val_xy = next(val_stream) if steps_arch else None
        result = run.step(train_xy, val_xy)
        tally.add(result, train_xy[1], None if val_xy is None else val_xy[1])
        if on_step is not None:
            on_step(step, steps, tally.n_train + tally.n_val)
    return tally


def epoch_record(run: SearchRun, progress: Progress, tally: Tally, gap: list,
                 parses: Sequence[ParseSpec] = ()) -> dict[str, Any]:
    """The epoch's record: losses, the variant's indicators, the parsed genotype and its gap on `gap`."""
    variant, space, model = run.variant, run.space, run.model
    with torch.no_grad():
        weights = {k: w.detach() for k, w in run.weights().items()}
    masks = model.op_masks() or None
    np_masks = None if masks is None else {k: m.cpu().numpy() for k, m in masks.items()}  # parse wants numpy
    genotype = variant.parse(weights, space, run.primitives, np_masks)
    acc_cont = supernet_accuracy(model, weights, gap)
    acc_disc = supernet_accuracy(model, _one_hot(run, genotype, weights), gap)
    record: dict[str, Any] = {
        "epoch": progress.epoch,
        "stage": progress.stage,
        "lr": run.w_optimizer.param_groups[0]["lr"],
        **tally.means(),
        **variant.indicators(weights),
        **_genotype_counts(genotype, space),
        **weight_indicators(weights, masks, normalize=variant.activation != "sigmoid"),
        "acc_continuous": acc_cont,
        "acc_discrete": acc_disc,
        "disc_gap": acc_cont - acc_disc,
        "hessian_eig": math.nan,
        "genotype": genotype.to_json(),
        "weights": {k: w.cpu().tolist() for k, w in weights.items()},
    }
    if run.config.hessian_every and (progress.epoch + 1) % run.config.hessian_every == 0:
        record["hessian_eig"] = run.hessian_eigenvalue(gap[0])
    if parses:
        record["parses"] = {}
        for label, method, threshold in parses:
            parsed = variant.with_options(parse_method=method, threshold=threshold).parse(
                weights, space, run.primitives, np_masks)
            acc = acc_disc if parsed == genotype else supernet_accuracy(model, _one_hot(run, parsed, weights), gap)
            record["parses"][label] = {"genotype": parsed.to_json(), **_genotype_counts(parsed, space),
                                       "acc_discrete": acc, "disc_gap": acc_cont - acc}
    return record


def _one_hot(run: SearchRun, genotype: Genotype, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The genotype's ops as 0/1 weights per cell kind, on the device of `like`."""
    return {k: torch.tensor(v, dtype=torch.float32, device=like[k].device)
            for k, v in run.space.genotype_mask(genotype, run.primitives).items()}


def _genotype_counts(genotype: Genotype, space) -> dict[str, Any]:
    """Skips in the first and the last cell kind, and the parameter-free share of the edges."""
    return {"skip_normal": genotype.skip_count(space.cell_kinds[0]),
            "skip_reduce": genotype.skip_count(space.cell_kinds[-1]),
            "param_free_fraction": param_free_fraction(genotype)}
