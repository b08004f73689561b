"""Evaluation training of a genotype's network: SGD + cosine, auxiliary head, drop path, cutout.

`train()` is a generator that yields one record per epoch and checkpoints after each, so a
resumed run continues to exactly the same result as an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data import NO_AUGMENT, Augment, Batches, ImageSet
from .fastops import speed_up
from .genotype import Genotype
from .inference import fold_batchnorm, predict
from .search import tune_for


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 600  # training epochs
    batch_size: int = 96  # images per step
    eval_batch_size: int = 256  # images per test forward
    learning_rate: float = 0.025  # SGD, cosine-annealed over the epochs
    learning_rate_min: float = 0.0  # where the cosine ends (the published protocol: 0)
    momentum: float = 0.9  # SGD momentum
    nesterov: bool = False  # Nesterov momentum (the NAS-Bench-201 protocol)
    weight_decay: float = 3e-4  # SGD weight decay
    grad_clip: float = 5.0  # norm clip of the gradients (0: none)
    auxiliary_weight: float = 0.4  # weight of the auxiliary head's loss; 0 turns the head off
    drop_path_prob: float = 0.2  # reached at the last epoch, rising linearly from 0
    cutout: int = 16  # side of the cutout square (0: none)
    autoaugment: bool = False  # torchvision's AutoAugment CIFAR10 policy
    init_channels: int = 36  # C of the first cells (NB201: 16)
    layers: int = 20  # cells (NB201: cells per stage, 5)
    seed: int = 0  # seeds the network, the batches, drop path and augmentation
    train_limit: int = 0  # use only the first N training images (0: all)
    test_limit: int = 0  # score only the first N test images (0: all)
    channels_last: bool = True  # channels_last tensors (faster on CPU and recent GPUs); off on the reference path
    fast: bool = True  # shared ReLUs in the cells, fastops on CPU, BatchNorm folded for testing; off on the reference path
    amp: bool = False  # bf16 autocast on CUDA; weights and losses stay fp32

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size", "init_channels", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.drop_path_prob < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {self.drop_path_prob}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("cutout", "train_limit", "test_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def build_model(genotype: Genotype, config: TrainConfig, num_classes: int, device: torch.device | str) -> nn.Module:
    """The evaluation network of the genotype's space family, on `device`; fastops on the CPU fast path."""
    from .spaces import space_of

    device = torch.device(device)
    model = space_of(genotype).evalnet(genotype, config.init_channels, config.layers, num_classes,
                                       auxiliary=config.auxiliary_weight > 0, fast=config.fast).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.fast and device.type == "cpu":
        speed_up(model)
    return model


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, amp: bool = False, fast: bool = True) -> tuple[float, float]:
    """(mean loss, top-1 accuracy %) over one pass of the batches, in eval mode. fast=True scores a
    copy with BatchNorm folded into the convs, in cache-sized chunks on CPU (the same outputs, faster);
    `model` is left in eval mode."""
    model.eval()
    if fast:
        model = fold_batchnorm(model)
    total_loss = torch.zeros((), device=batches.device)
    correct = torch.zeros((), device=batches.device, dtype=torch.long)
    seen = 0
    for x, y in batches.epoch(0):  # sums stay on the device: no host-device sync per batch
        with _autocast(x.device, amp):
            logits = predict(model, x) if fast else model(x)[0]
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        seen += y.numel()
    return total_loss.item() / seen, 100.0 * correct.item() / seen


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               config: TrainConfig, params: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step: cross-entropy (+ the auxiliary head's, weighted), backward, clip, SGD.
    Returns the detached (loss, logits)."""
    with _autocast(x.device, config.amp):
        logits, logits_aux = model(x)
    loss = F.cross_entropy(logits.float(), y)
    if logits_aux is not None:
        loss = loss + config.auxiliary_weight * F.cross_entropy(logits_aux.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip:
        nn.utils.clip_grad_norm_(params if params is not None else model.parameters(), config.grad_clip)
    optimizer.step()
    return loss.detach(), logits.detach()


def train(genotype: Genotype, train_set: ImageSet, test_set: ImageSet, config: TrainConfig,
          device: torch.device | str = "cpu", out_dir: str | Path | None = None,
          resume: bool = False, on_step: Callable[[int, int, int], None] | None = None) -> Iterator[dict[str, Any]]:
    """Train the evaluation network; yield {epoch, lr, train_loss, train_acc, test_loss, test_acc, ...}.

    With out_dir, a checkpoint is written after every epoch to out_dir/checkpoint.pt, and
    resume=True continues from it. Sets the process's loop settings for the device (`tune_for`).
    """
    device = torch.device(device)
    tune_for(device, config.fast)
    torch.manual_seed(config.seed)
    if config.train_limit:
        train_set = train_set.subset(slice(0, config.train_limit))
    if config.test_limit:
        test_set = test_set.subset(slice(0, config.test_limit))
    model = build_model(genotype, config, train_set.num_classes, device)
    optimizer = torch.optim.SGD(model.parameters(), config.learning_rate, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=config.nesterov)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs, eta_min=config.learning_rate_min)
    train_batches = Batches(train_set, config.batch_size, device, Augment(cutout=config.cutout,
                            autoaugment=config.autoaugment), shuffle=True, seed=config.seed,
                            channels_last=config.channels_last)
    test_batches = Batches(test_set, config.eval_batch_size, device, NO_AUGMENT, shuffle=False,
                           channels_last=config.channels_last)
    ckpt_path = Path(out_dir) / "checkpoint.pt" if out_dir is not None else None
    start = 0
    history: list[dict[str, Any]] = []
    if resume and ckpt_path is not None and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, kind="train")
        if state["genotype"] != genotype.to_json():
            raise ValueError(f"checkpoint {ckpt_path} was trained from another genotype")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"], device)
        start = state["epoch"] + 1
        history = list(state["history"])
        for record in history:
            yield dict(record, resumed=True)

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        if hasattr(model, "drop_path_prob"):
            model.drop_path_prob = config.drop_path_prob * epoch / config.epochs
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        steps = len(train_batches)
        for step, (x, y) in enumerate(train_batches.epoch(epoch), 1):
            loss, logits = train_step(model, optimizer, x, y, config)
            loss_sum += loss * y.numel()
            correct += (logits.argmax(1) == y).sum()
            seen += y.numel()
            if on_step is not None:
                on_step(step, steps, seen)
        scheduler.step()
        test_loss, test_acc = evaluate(model, test_batches, config.amp, fast=config.fast)
        record = {
            "epoch": epoch,
            "lr": lr,
            "drop_path_prob": getattr(model, "drop_path_prob", 0.0),
            "train_loss": loss_sum.item() / seen,
            "train_acc": 100.0 * correct.item() / seen,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "seconds": time.perf_counter() - began,
            "images_per_s": seen / (time.perf_counter() - began),
        }
        history.append(record)
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, {
                "kind": "train", "history": history, "epoch": epoch, "genotype": genotype.to_json(), "config": asdict(config),
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": rng_state(device),
            })
        yield record
