"""The shared bi-level search loop (first order, second order, single level) for every variant.

`search()` is a generator: one record per epoch with the indicators (losses, accuracies, the
zero-one loss, the parsed genotype, skip counts, weight entropy / near-0-1 fraction, the
discretization gap, optionally the Hessian's dominant eigenvalue) and the activated weights.
It checkpoints after each epoch; resume=True continues to exactly the uninterrupted result.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .allocator import keep_freed_memory
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data import Augment, Batches, ImageSet, NO_AUGMENT, search_split
from .discretize import genotype_mask
from .losses import zero_one_loss
from .supernet import SearchNetwork
from .variant import Variant

ORDERS = ("first", "second")


@dataclass(frozen=True)
class SearchConfig:
    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 0.025
    learning_rate_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_learning_rate: float = 3e-4
    arch_beta1: float = 0.9  # the seed's Adam betas (0.9, 0.999); original DARTS used 0.5
    arch_beta2: float = 0.999
    arch_weight_decay: float = 1e-3
    init_channels: int = 16
    layers: int = 8
    train_portion: float = 0.5
    order: str = "first"  # "second": one-step unrolled hypergradient (DARTS 2nd order)
    single_level: bool = False  # weights and alphas stepped on the same (train) batch
    seed: int = 0
    train_limit: int = 0  # use only the first N training images before the split (0: all)
    gap_images: int = 512  # fixed search-val images for the discretization gap
    hessian_every: int = 0  # dominant Hessian eigenvalue of the val loss w.r.t. alphas every N epochs
    channels_last: bool = True
    fast: bool = True  # the shared-ReLU mixed op; False runs the plain Python sum (reference)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "init_channels", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; valid: {', '.join(ORDERS)}")
        if self.single_level and self.order == "second":
            raise ValueError("single_level and second order exclude each other")


SEARCH_PRESETS: dict[str, SearchConfig] = {
    # Published CIFAR-10 search (variant-specific epochs, batch and learning rates come from the variant).
    "paper": SearchConfig(),
    # CPU, bundled digits: C=8, 5 cells, 896 images (448 + 448), 4 epochs; arch lr x30 (see search_config).
    # Measured on 2 cores: see README (search section).
    "quick": SearchConfig(epochs=4, batch_size=32, init_channels=8, layers=5, train_limit=896, gap_images=256),
    # Seconds, for tests.
    "smoke": SearchConfig(epochs=2, batch_size=16, init_channels=4, layers=3, train_limit=128, gap_images=32),
}


def config_from(base: SearchConfig, overrides: dict[str, Any]) -> SearchConfig:
    """Apply overrides (None values ignored); unknown keys are an error."""
    known = {f.name for f in fields(base)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown search option(s): {', '.join(sorted(unknown))}")
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


# The quick and smoke presets take far fewer arch steps than a paper search (quick 56, smoke 8, paper
# ~10,000): their arch learning rate is the variant's published one times this, so alphas can move at all.
SHORT_ARCH_LR_FACTOR = {"quick": 30.0, "smoke": 100.0}
LEARNING_RATE_KEYS = ("learning_rate", "learning_rate_min", "arch_learning_rate")


def search_config(preset: str, variant: Variant, overrides: dict[str, Any] | None = None) -> SearchConfig:
    """A preset for one variant: `paper` takes all of the variant's published hyperparameters,
    the short presets its learning rates (arch lr scaled by SHORT_ARCH_LR_FACTOR[preset]); then overrides."""
    if preset not in SEARCH_PRESETS:
        raise ValueError(f"unknown search preset {preset!r}; valid: {', '.join(SEARCH_PRESETS)}")
    published = dict(variant.paper_search)
    if preset != "paper":
        published = {k: v for k, v in published.items() if k in LEARNING_RATE_KEYS}
        if "arch_learning_rate" in published:
            published["arch_learning_rate"] *= SHORT_ARCH_LR_FACTOR[preset]
    return config_from(replace(SEARCH_PRESETS[preset], **published), overrides or {})


def build_supernet(variant: Variant, config: SearchConfig, num_classes: int, device: torch.device) -> SearchNetwork:
    torch.manual_seed(config.seed)
    model = SearchNetwork(config.init_channels, num_classes, config.layers, variant.primitives, fast=config.fast)
    gen = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        for alpha in model.arch_parameters():
            alpha.copy_(variant.init_alphas(tuple(alpha.shape), gen))
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    variant.attach(model)
    return model


# ----- indicators --------------------------------------------------------------------------------
@contextlib.contextmanager
def batch_stats_eval(model: nn.Module):
    """Eval mode (no noise hooks), but BatchNorm normalizes with batch statistics and leaves its running
    stats alone: the supernet's running stats were gathered under other weights, so they are no guide."""
    was_training = model.training
    model.eval()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.train()
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def supernet_accuracy(model: SearchNetwork, weights: dict[str, torch.Tensor], batches: list) -> float:
    correct = seen = 0
    with batch_stats_eval(model):
        for x, y in batches:
            correct += (model(x, weights).argmax(1) == y).sum().item()
            seen += y.numel()
    return 100.0 * correct / seen


def weight_indicators(weights: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean entropy per edge of the weights normalized over ops, and the fraction within 0.1 of 0 or 1."""
    stacked = torch.cat([weights["normal"], weights["reduce"]]).detach().float()
    probs = stacked / stacked.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean().item()
    near = ((stacked < 0.1) | (stacked > 0.9)).float().mean().item()
    return {"weight_entropy": entropy, "near_01": near}


def hessian_eigenvalue(model: SearchNetwork, variant: Variant, x: torch.Tensor, y: torch.Tensor,
                       iterations: int = 20) -> float:
    """Dominant eigenvalue of d2 L_val / d alpha2, by power iteration on Hessian-vector products."""
    alphas = model.arch_parameters()
    with batch_stats_eval(model):
        loss = F.cross_entropy(model(x, variant.weights(model)), y)
        grads = torch.autograd.grad(loss, alphas, create_graph=True)
        v = [torch.randn_like(a) for a in alphas]
        eig = 0.0
        for _ in range(iterations):
            norm = torch.sqrt(sum((t * t).sum() for t in v))
            v = [t / norm for t in v]
            hv = torch.autograd.grad(grads, alphas, grad_outputs=v, retain_graph=True)
            eig = sum((a * b).sum() for a, b in zip(hv, v)).item()
            v = [t.detach() for t in hv]
    return eig


# ----- steps ------------------------------------------------------------------------------------
def _loss(model: SearchNetwork, variant: Variant, x: torch.Tensor, y: torch.Tensor):
    weights = variant.weights(model)
    logits = model(x, weights)
    loss = F.cross_entropy(logits, y)
    extra = variant.arch_loss(weights)
    return (loss if extra is None else loss + extra), loss, logits


def _functional_loss(model: SearchNetwork, variant: Variant, params: dict[str, torch.Tensor],
                     buffers: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    weights = {k: variant.activate(params[f"alphas_{k}"]) for k in ("normal", "reduce")}
    logits = functional_call(model, {**params, **buffers}, (x, weights))
    extra = variant.arch_loss(weights)
    loss = F.cross_entropy(logits, y)
    return loss if extra is None else loss + extra


def unrolled_arch_grads(model: SearchNetwork, variant: Variant, w_optimizer: torch.optim.SGD,
                        train_xy: tuple, val_xy: tuple, eta: float,
                        hvp_scale: float = 0.01) -> tuple[list[torch.Tensor], torch.Tensor]:
    """DARTS second-order hypergradient of L_val(w - eta * dL_train/dw, alpha) w.r.t. alpha.

    The Hessian-vector product is a central finite difference with eps = hvp_scale / ||dL_val/dw'||
    (DARTS: 0.01). ReLU and max-pool kinks make that difference coarse on tiny nets; a small
    hvp_scale in float64 recovers the exact derivative (the tests do this).
    Returns (grads for the alphas, the val loss at w').
    """
    group = w_optimizer.param_groups[0]
    names = [n for n, _ in model.named_parameters()]
    params = {n: p for n, p in model.named_parameters()}
    arch_names = [n for n in names if n.startswith("alphas_")]
    weight_names = [n for n in names if n not in arch_names]
    # Buffers are cloned so the extra forward passes leave the running stats untouched.
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    x_t, y_t = train_xy
    x_v, y_v = val_xy

    # w' = w - eta * (momentum buffer * mu + dL_train/dw + wd * w), as the official code.
    train_loss = _functional_loss(model, variant, params, buffers, x_t, y_t)
    grads_w = torch.autograd.grad(train_loss, [params[n] for n in weight_names])
    unrolled = dict(params)
    for n, g in zip(weight_names, grads_w):
        p = params[n]
        buf = w_optimizer.state.get(p, {}).get("momentum_buffer")
        step = g + group["weight_decay"] * p.detach()
        if buf is not None:
            step = step + group["momentum"] * buf
        unrolled[n] = (p.detach() - eta * step).requires_grad_(True)
    unrolled_alphas = {n: params[n] for n in arch_names}
    val_loss = _functional_loss(model, variant, {**unrolled, **unrolled_alphas}, buffers, x_v, y_v)
    grads = torch.autograd.grad(val_loss, [params[n] for n in arch_names] + [unrolled[n] for n in weight_names])
    d_alpha, d_w = grads[:len(arch_names)], grads[len(arch_names):]

    norm = torch.sqrt(sum((g * g).sum() for g in d_w))
    eps = hvp_scale / norm.clamp_min(1e-12)
    implicit = []
    for sign in (1.0, -1.0):
        shifted = {n: (params[n].detach() + sign * eps * g) for n, g in zip(weight_names, d_w)}
        loss = _functional_loss(model, variant, {**shifted, **unrolled_alphas}, buffers, x_t, y_t)
        implicit.append(torch.autograd.grad(loss, [params[n] for n in arch_names]))
    hvp = [(gp - gm) / (2 * eps) for gp, gm in zip(*implicit)]
    return [da - eta * h for da, h in zip(d_alpha, hvp)], val_loss.detach()


# ----- the loop ---------------------------------------------------------------------------------
def search(variant: Variant, train_set: ImageSet, config: SearchConfig, device: torch.device | str = "cpu",
           out_dir: str | Path | None = None, resume: bool = False) -> Iterator[dict[str, Any]]:
    """Search with `variant`; yield one record per epoch (see the module docstring). The fast path
    (config.fast) sets glibc malloc to keep freed memory for this process (`keep_freed_memory`)."""
    if not variant.searches:
        raise ValueError(f"variant {variant.name} does not search; it samples genotypes")
    if config.fast:
        keep_freed_memory()
    device = torch.device(device)
    if config.train_limit:
        train_set = train_set.subset(slice(0, config.train_limit))
    weight_set, arch_set = search_split(train_set, config.train_portion)
    model = build_supernet(variant, config, train_set.num_classes, device)
    w_optimizer = torch.optim.SGD(model.weight_parameters(), config.learning_rate, momentum=config.momentum,
                                  weight_decay=config.weight_decay)
    a_optimizer = torch.optim.Adam(model.arch_parameters(), config.arch_learning_rate,
                                   betas=(config.arch_beta1, config.arch_beta2),
                                   weight_decay=config.arch_weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(w_optimizer, config.epochs,
                                                           eta_min=config.learning_rate_min)
    augment = Augment()
    train_batches = Batches(weight_set, config.batch_size, device, augment, seed=config.seed,
                            channels_last=config.channels_last, drop_last=True)
    val_batches = Batches(arch_set, config.batch_size, device, augment, seed=config.seed + 1,
                          channels_last=config.channels_last, drop_last=True)
    gap_set = arch_set.subset(slice(0, config.gap_images))
    gap_batches = list(Batches(gap_set, max(config.batch_size, 64), device, NO_AUGMENT, shuffle=False,
                               channels_last=config.channels_last).epoch(0))

    ckpt_path = Path(out_dir) / "checkpoint.pt" if out_dir is not None else None
    history: list[dict[str, Any]] = []
    start = 0
    if resume and ckpt_path is not None and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, kind="search")
        if state["variant"] != variant.name:
            raise ValueError(f"checkpoint {ckpt_path} is from variant {state['variant']}, not {variant.name}")
        model.load_state_dict(state["model"])
        w_optimizer.load_state_dict(state["w_optimizer"])
        a_optimizer.load_state_dict(state["a_optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        history = list(state["history"])
        start = state["epoch"] + 1
        for record in history:
            yield dict(record, resumed=True)

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        variant.start_epoch(epoch)
        lr = w_optimizer.param_groups[0]["lr"]
        model.train()
        sums = {k: torch.zeros((), device=device) for k in ("train_loss", "train_correct", "val_loss", "val_correct")}
        n_train = n_val = 0
        # Val batches for the arch steps: this epoch's permutations, repeated if the val half is smaller.
        val_stream = itertools.chain.from_iterable(val_batches.epoch(epoch * 1000 + k) for k in itertools.count())
        for x_t, y_t in train_batches.epoch(epoch):
            if not config.single_level:
                x_v, y_v = next(val_stream)
                a_optimizer.zero_grad(set_to_none=True)
                if config.order == "second":
                    grads, val_loss = unrolled_arch_grads(model, variant, w_optimizer, (x_t, y_t), (x_v, y_v), lr)
                    for a, g in zip(model.arch_parameters(), grads):
                        a.grad = g
                    with torch.no_grad():
                        val_logits = model(x_v, variant.weights(model))
                else:
                    total, val_loss, val_logits = _loss(model, variant, x_v, y_v)
                    arch = model.arch_parameters()
                    for a, g in zip(arch, torch.autograd.grad(total, arch)):
                        a.grad = g
                a_optimizer.step()
                sums["val_loss"] += val_loss.detach() * y_v.numel()
                sums["val_correct"] += (val_logits.detach().argmax(1) == y_v).sum()
                n_val += y_v.numel()

            w_optimizer.zero_grad(set_to_none=True)
            if config.single_level:
                a_optimizer.zero_grad(set_to_none=True)
            total, train_loss, logits = _loss(model, variant, x_t, y_t)
            if config.single_level:
                total.backward()
                a_optimizer.step()
            else:
                weights_only = model.weight_parameters()
                for p, g in zip(weights_only, torch.autograd.grad(total, weights_only)):
                    p.grad = g
            nn.utils.clip_grad_norm_(model.weight_parameters(), config.grad_clip)
            w_optimizer.step()
            sums["train_loss"] += train_loss.detach() * y_t.numel()
            sums["train_correct"] += (logits.detach().argmax(1) == y_t).sum()
            n_train += y_t.numel()
        scheduler.step()

        record = _epoch_record(model, variant, config, epoch, lr, sums, n_train, n_val, gap_batches)
        record["seconds"] = time.perf_counter() - began
        history.append(record)
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, {
                "kind": "search", "variant": variant.name, "variant_options": repr(variant.options()),
                "config": asdict(config), "epoch": epoch, "model": model.state_dict(),
                "w_optimizer": w_optimizer.state_dict(), "a_optimizer": a_optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": rng_state(), "history": history,
            })
        yield record


def _epoch_record(model: SearchNetwork, variant: Variant, config: SearchConfig, epoch: int, lr: float,
                  sums: dict[str, torch.Tensor], n_train: int, n_val: int, gap_batches: list) -> dict[str, Any]:
    with torch.no_grad():
        weights = {k: w.detach() for k, w in variant.weights(model).items()}
    genotype = variant.parse(weights)
    mask = {k: torch.tensor(v, dtype=torch.float32, device=weights[k].device)
            for k, v in genotype_mask(genotype, variant.primitives).items()}
    acc_cont = supernet_accuracy(model, weights, gap_batches)
    acc_disc = supernet_accuracy(model, mask, gap_batches)
    zo_form = getattr(variant, "zero_one_form", "l2")
    record: dict[str, Any] = {
        "epoch": epoch,
        "lr": lr,
        "train_loss": sums["train_loss"].item() / max(n_train, 1),
        "train_acc": 100.0 * sums["train_correct"].item() / max(n_train, 1),
        "val_loss": sums["val_loss"].item() / n_val if n_val else math.nan,
        "val_acc": 100.0 * sums["val_correct"].item() / n_val if n_val else math.nan,
        "zero_one_loss": zero_one_loss(torch.cat([weights["normal"], weights["reduce"]]), zo_form).item(),
        "skip_normal": genotype.skip_count("normal"),
        "skip_reduce": genotype.skip_count("reduce"),
        **weight_indicators(weights),
        "acc_continuous": acc_cont,
        "acc_discrete": acc_disc,
        "disc_gap": acc_cont - acc_disc,
        "hessian_eig": math.nan,
        "genotype": genotype.to_json(),
        "weights": {k: w.cpu().tolist() for k, w in weights.items()},
    }
    if config.hessian_every and (epoch + 1) % config.hessian_every == 0:
        x, y = gap_batches[0]
        record["hessian_eig"] = hessian_eigenvalue(model, variant, x, y)
    return record
