"""The shared bi-level search loop (first order, second order, single level, stages) for every variant.

`search()` is a generator: one record per epoch with the indicators (losses, accuracies, the
zero-one loss, the parsed genotype, skip counts, weight entropy / near-0-1 fraction, the
discretization gap, optionally the Hessian's dominant eigenvalue) and the activated weights.
A variant's stage plan runs stage after stage, each on a supernet built for it; the loop
checkpoints after each epoch, and resume=True continues to exactly the uninterrupted result,
across stage boundaries too.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .allocator import keep_freed_memory
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data import Augment, Batches, ImageSet, NO_AUGMENT, search_split
from .fastops import plain_modules, speed_up
from .losses import zero_one_loss
from .spaces import DEFAULT_SPACE, SearchSpace, get_space
from .supernet import Supernet
from .variant import Progress, Sampler, Stage, Variant


@dataclass(frozen=True)
class SearchConfig:
    space: str = DEFAULT_SPACE  # the search space (darts, nb201, s2, s3, s4)
    epochs: int = 50  # search epochs, all stages together
    batch_size: int = 64  # images per weight step and per architecture step
    learning_rate: float = 0.025  # SGD on the weights, cosine-annealed per stage
    learning_rate_min: float = 0.001  # where the cosine ends
    momentum: float = 0.9  # SGD momentum
    nesterov: bool = False  # Nesterov momentum (the NAS-Bench-201 protocol)
    weight_decay: float = 3e-4  # SGD weight decay
    grad_clip: float = 5.0  # norm clip of the weight gradients
    arch_learning_rate: float = 3e-4  # Adam on the architecture parameters
    arch_beta1: float = 0.9  # Adam beta1: 0.9 in the FairDARTS repository, 0.5 in the original DARTS
    arch_beta2: float = 0.999  # Adam beta2
    arch_weight_decay: float = 1e-3  # Adam weight decay
    arch_grad_clip: float = 0.0  # norm clip of the architecture gradients (P-DARTS: 5); 0: none
    init_channels: int = 16  # C of the supernet's first cells
    layers: int = 8  # cells of the supernet (NB201: cells per stage); a stage plan may add some
    train_portion: float = 0.5  # share of the training images that train the weights; the rest the alphas
    order: Literal["first", "second"] = "first"  # second: the one-step unrolled hypergradient (DARTS V2)
    single_level: bool = False  # weights and alphas stepped on the same (train) batch
    weight_step_first: bool = False  # the weight step before the arch step (the NAS-Bench-201 scripts)
    seed: int = 0  # seeds the supernet, the alphas, the batches and the noise
    train_limit: int = 0  # use only the first N training images before the split (0: all)
    gap_images: int = 512  # fixed search-val images for the discretization gap
    hessian_every: int = 0  # dominant Hessian eigenvalue of the val loss w.r.t. alphas every N epochs (0: never)
    channels_last: bool = True  # channels_last tensors (faster on CPU); off on the reference path
    fast: bool = True  # the shared-ReLU mixed op; False runs the plain Python sum (reference)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "init_channels", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.order not in ("first", "second"):
            raise ValueError(f"unknown order {self.order!r}; valid: first, second")
        if self.single_level and self.order == "second":
            raise ValueError("single_level and second order exclude each other")
        for name in ("learning_rate", "arch_learning_rate", "grad_clip"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.arch_grad_clip < 0 or self.hessian_every < 0 or self.train_limit < 0:
            raise ValueError("arch_grad_clip, hessian_every and train_limit must be >= 0")


# ----- building -----------------------------------------------------------------------------------
def build_supernet(variant: Variant, config: SearchConfig, num_classes: int, device: torch.device | str,
                   stage: Stage | None = None, stage_index: int = 0) -> Supernet:
    """The supernet of one stage (default: a single stage of config.layers cells), its architecture
    parameters initialized by the variant; seeded from (config.seed, stage_index)."""
    space = get_space(config.space)
    primitives = variant.primitives(space)
    stage = stage or Stage(config.epochs, config.layers)
    seed = config.seed + 1_000_003 * stage_index
    torch.manual_seed(seed)
    masks = space.op_masks(primitives, stage.edge_ops())
    model = space.supernet(primitives, num_classes, config.init_channels, stage.cells, masks, variant.mixed_op(),
                           fast=config.fast)
    gen = torch.Generator().manual_seed(seed)
    for name, shape in variant.arch_shapes(space, primitives).items():
        model.arch[name] = nn.Parameter(variant.init_arch(name, tuple(shape), gen))
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.fast and torch.device(device).type == "cpu":
        speed_up(model)
    return model


def make_optimizers(model: Supernet, config: SearchConfig, epochs: int):
    """(weight SGD, arch Adam, cosine schedule over `epochs`)."""
    w_optimizer = torch.optim.SGD(model.weight_parameters(), config.learning_rate, momentum=config.momentum,
                                  weight_decay=config.weight_decay, nesterov=config.nesterov)
    a_optimizer = torch.optim.Adam(model.arch_parameters(), config.arch_learning_rate,
                                   betas=(config.arch_beta1, config.arch_beta2),
                                   weight_decay=config.arch_weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(w_optimizer, epochs, eta_min=config.learning_rate_min)
    return w_optimizer, a_optimizer, scheduler


def model_weights(model: Supernet, variant: Variant, space: SearchSpace) -> dict[str, torch.Tensor]:
    """The variant's activated weights of the supernet's architecture parameters (ops an edge does not hold: 0)."""
    return variant.weights(model.masked(dict(model.arch)), space)


# ----- indicators --------------------------------------------------------------------------------
@contextlib.contextmanager
def batch_stats_eval(model: nn.Module):
    """Eval mode (no noise hooks), but BatchNorm normalizes with batch statistics and leaves its running
    stats alone: the supernet's running stats were gathered under other weights, so they are no guide."""
    was_training = model.training
    model.eval()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.track_running_stats) for m in norms]
    for m in norms:
        m.train()
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, _) in zip(norms, saved):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def supernet_accuracy(model: nn.Module, weights: Mapping[str, torch.Tensor], batches: list) -> float:
    correct = seen = 0
    with batch_stats_eval(model):
        for x, y in batches:
            correct += (model(x, weights).argmax(1) == y).sum().item()
            seen += y.numel()
    return 100.0 * correct / seen


def weight_indicators(weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor] | None = None,
                      normalize: bool = True) -> dict[str, float]:
    """Mean entropy per edge of the weights normalized over ops, and the fraction within 0.1 of 0 or 1,
    over the ops each edge holds. normalize: the fraction on the rows normalized to sum 1 (softmax
    variants whose rows carry an edge weight, PC-DARTS); off for independent sigmoid weights."""
    stacked = torch.cat(list(weights.values())).detach().float()
    probs = stacked / stacked.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean().item()
    values = probs if normalize else stacked
    near = (values < 0.1) | (values > 0.9)
    if masks:
        held = torch.cat([masks[k] for k in weights]).to(near.device)
        return {"weight_entropy": entropy, "near_01": near[held].float().mean().item()}
    return {"weight_entropy": entropy, "near_01": near.float().mean().item()}


def hessian_eigenvalue(model: Supernet, variant: Variant, space: SearchSpace, x: torch.Tensor, y: torch.Tensor,
                       iterations: int = 20) -> float:
    """Dominant eigenvalue of d2 L_val / d alpha2, by power iteration on Hessian-vector products."""
    alphas = model.arch_parameters()
    with batch_stats_eval(model), plain_modules(model):
        loss = F.cross_entropy(model(x, model_weights(model, variant, space)), y)
        grads = torch.autograd.grad(loss, alphas, create_graph=True)
        v = [torch.randn_like(a) for a in alphas]
        eig = 0.0
        for _ in range(iterations):
            norm = torch.sqrt(sum((t * t).sum() for t in v))
            v = [t / norm for t in v]
            hv = torch.autograd.grad(grads, alphas, grad_outputs=v, retain_graph=True, allow_unused=True)
            hv = [torch.zeros_like(a) if h is None else h for h, a in zip(hv, alphas)]
            eig = sum((a * b).sum() for a, b in zip(hv, v)).item()
            v = [t.detach() for t in hv]
    return eig


# ----- steps ------------------------------------------------------------------------------------
def _loss(model: Supernet, variant: Variant, space: SearchSpace, x: torch.Tensor, y: torch.Tensor):
    weights = model_weights(model, variant, space)
    logits = model(x, weights)
    loss = F.cross_entropy(logits, y)
    extra = variant.arch_loss(weights)
    return (loss if extra is None else loss + extra), loss, logits


def _functional_loss(model: Supernet, variant: Variant, space: SearchSpace, params: dict[str, torch.Tensor],
                     buffers: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    arch = {n[len("arch."):]: p for n, p in params.items() if n.startswith("arch.")}
    weights = variant.weights(model.masked(arch), space)
    logits = functional_call(model, {**params, **buffers}, (x, weights))
    extra = variant.arch_loss(weights)
    loss = F.cross_entropy(logits, y)
    return loss if extra is None else loss + extra


def unrolled_arch_grads(model: Supernet, variant: Variant, space: SearchSpace, w_optimizer: torch.optim.SGD,
                        train_xy: tuple, val_xy: tuple, eta: float,
                        hvp_scale: float = 0.01) -> tuple[list[torch.Tensor], torch.Tensor]:
    """DARTS second-order hypergradient of L_val(w - eta * dL_train/dw, alpha) w.r.t. alpha.

    The Hessian-vector product is a central finite difference with eps = hvp_scale / ||dL_val/dw'||
    (DARTS: 0.01). ReLU and max-pool kinks make that difference coarse on tiny nets; a small
    hvp_scale in float64 recovers the exact derivative (the tests do this).
    Returns (grads for the architecture parameters, in model.arch order; the val loss at w').
    """
    group = w_optimizer.param_groups[0]
    params = dict(model.named_parameters())
    arch_names = [n for n in params if n.startswith("arch.")]
    weight_names = [n for n in params if n not in arch_names]
    # Buffers are cloned so the extra forward passes leave the running stats untouched.
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    x_t, y_t = train_xy
    x_v, y_v = val_xy

    # w' = w - eta * (momentum buffer * mu + dL_train/dw + wd * w), as the official code.
    train_loss = _functional_loss(model, variant, space, params, buffers, x_t, y_t)
    grads_w = torch.autograd.grad(train_loss, [params[n] for n in weight_names], allow_unused=True)
    unrolled = dict(params)
    for n, g in zip(weight_names, grads_w):
        p = params[n]
        g = torch.zeros_like(p) if g is None else g
        buf = w_optimizer.state.get(p, {}).get("momentum_buffer")
        step = g + group["weight_decay"] * p.detach()
        if buf is not None:
            step = step + group["momentum"] * buf
        unrolled[n] = (p.detach() - eta * step).requires_grad_(True)
    arch_params = {n: params[n] for n in arch_names}
    val_loss = _functional_loss(model, variant, space, {**unrolled, **arch_params}, buffers, x_v, y_v)
    grads = torch.autograd.grad(val_loss, [params[n] for n in arch_names] + [unrolled[n] for n in weight_names],
                                allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g
             for g, t in zip(grads, [params[n] for n in arch_names] + [unrolled[n] for n in weight_names])]
    d_alpha, d_w = grads[:len(arch_names)], grads[len(arch_names):]

    norm = torch.sqrt(sum((g * g).sum() for g in d_w))
    eps = hvp_scale / norm.clamp_min(1e-12)
    implicit = []
    for sign in (1.0, -1.0):
        shifted = {n: (params[n].detach() + sign * eps * g) for n, g in zip(weight_names, d_w)}
        loss = _functional_loss(model, variant, space, {**shifted, **arch_params}, buffers, x_t, y_t)
        implicit.append(torch.autograd.grad(loss, [params[n] for n in arch_names], allow_unused=True))
    hvp = [torch.zeros_like(params[n]) if gp is None else (gp - gm) / (2 * eps)
           for n, gp, gm in zip(arch_names, *implicit)]
    return [da - eta * h for da, h in zip(d_alpha, hvp)], val_loss.detach()


@dataclass
class StepResult:
    """Detached losses and logits of one search step (val: None without an arch step)."""

    train_loss: torch.Tensor
    train_logits: torch.Tensor
    val_loss: torch.Tensor | None = None
    val_logits: torch.Tensor | None = None


def arch_step(model: Supernet, variant: Variant, space: SearchSpace, config: SearchConfig,
              a_optimizer: torch.optim.Optimizer, w_optimizer: torch.optim.Optimizer, train_xy: tuple,
              val_xy: tuple, lr: float, full_backward: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One architecture step on a val batch (first or second order); returns (val loss, val logits).
    full_backward=True is the official code's `loss.backward()` over every parameter (the bench's
    reference path); the library takes the gradient of the alphas alone. Both give the same update."""
    x_v, y_v = val_xy
    a_optimizer.zero_grad(set_to_none=True)
    arch = model.arch_parameters()
    if config.order == "second":
        grads, val_loss = unrolled_arch_grads(model, variant, space, w_optimizer, train_xy, val_xy, lr)
        for a, g in zip(arch, grads):
            a.grad = g
        with torch.no_grad():
            val_logits = model(x_v, model_weights(model, variant, space))
    else:
        total, val_loss, val_logits = _loss(model, variant, space, x_v, y_v)
        if full_backward:
            total.backward()
        else:
            for a, g in zip(arch, torch.autograd.grad(total, arch, allow_unused=True)):
                a.grad = torch.zeros_like(a) if g is None else g
    if config.arch_grad_clip:
        nn.utils.clip_grad_norm_(arch, config.arch_grad_clip)
    a_optimizer.step()
    return val_loss.detach(), val_logits.detach()


def weight_step(model: Supernet, variant: Variant, space: SearchSpace, config: SearchConfig,
                w_optimizer: torch.optim.Optimizer, a_optimizer: torch.optim.Optimizer | None, train_xy: tuple,
                full_backward: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One weight step on a train batch (single level: the alphas too, when a_optimizer is given);
    returns (train loss, train logits)."""
    x_t, y_t = train_xy
    w_optimizer.zero_grad(set_to_none=True)
    total, train_loss, logits = _loss(model, variant, space, x_t, y_t)
    if a_optimizer is not None:  # single level
        a_optimizer.zero_grad(set_to_none=True)
        total.backward()
        if config.arch_grad_clip:
            nn.utils.clip_grad_norm_(model.arch_parameters(), config.arch_grad_clip)
        a_optimizer.step()
    elif full_backward:
        total.backward()
    else:
        weights_only = model.weight_parameters()
        for p, g in zip(weights_only, torch.autograd.grad(total, weights_only)):
            p.grad = g
    nn.utils.clip_grad_norm_(model.weight_parameters(), config.grad_clip)
    w_optimizer.step()
    return train_loss.detach(), logits.detach()


def search_step(model: Supernet, variant: Variant, space: SearchSpace, config: SearchConfig,
                w_optimizer: torch.optim.Optimizer, a_optimizer: torch.optim.Optimizer, train_xy: tuple,
                val_xy: tuple | None, lr: float, full_backward: bool = False) -> StepResult:
    """One step of the bi-level loop: an arch step on val_xy (skipped when None: warm-up or single
    level) and a weight step on train_xy, in the order the config asks."""
    single = config.single_level

    def weights_part():
        return weight_step(model, variant, space, config, w_optimizer, a_optimizer if single else None, train_xy,
                           full_backward)

    if val_xy is None or single:
        train_loss, logits = weights_part()
        return StepResult(train_loss, logits)
    if config.weight_step_first:
        train_loss, logits = weights_part()
        val_loss, val_logits = arch_step(model, variant, space, config, a_optimizer, w_optimizer, train_xy, val_xy,
                                         lr, full_backward)
    else:
        val_loss, val_logits = arch_step(model, variant, space, config, a_optimizer, w_optimizer, train_xy, val_xy,
                                         lr, full_backward)
        train_loss, logits = weights_part()
    return StepResult(train_loss, logits, val_loss, val_logits)


# ----- the loop ---------------------------------------------------------------------------------
ParseSpec = tuple[str, str, float]  # (label, parse method, threshold)


def tune_for(device: torch.device, fast: bool) -> None:
    """Process settings for the loops on `device`: cuDNN picks its fastest kernels for the fixed shapes
    (CUDA); glibc keeps freed memory on the CPU fast path (`keep_freed_memory`)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    elif fast:
        keep_freed_memory()


def search(variant: Variant, train_set: ImageSet, config: SearchConfig, device: torch.device | str = "cpu",
           out_dir: str | Path | None = None, resume: bool = False, parses: Sequence[ParseSpec] = (),
           on_step: Callable[[int, int, int], None] | None = None) -> Iterator[dict[str, Any]]:
    """Search with `variant` in config.space; yield one record per epoch (see the module docstring).

    parses: extra parse settings applied to every epoch's weights; each epoch's record["parses"][label]
    holds that parse's genotype, skip counts, parameter-free fraction and discretization gap.
    on_step(step, steps, images): called after every step of an epoch (progress displays).
    The CPU fast path (config.fast) sets glibc malloc to keep freed memory for this process."""
    if isinstance(variant, Sampler) or not isinstance(variant, Variant):
        raise ValueError(f"variant {variant.name} does not search; it samples genotypes")
    space = get_space(config.space)
    variant.check_space(space)
    primitives = variant.primitives(space)
    device = torch.device(device)
    tune_for(device, config.fast)
    if config.train_limit:
        train_set = train_set.subset(slice(0, config.train_limit))
    weight_set, arch_set = search_split(train_set, config.train_portion)
    augment = Augment()
    train_batches = Batches(weight_set, config.batch_size, device, augment, seed=config.seed,
                            channels_last=config.channels_last, drop_last=True)
    val_batches = Batches(arch_set, config.batch_size, device, augment, seed=config.seed + 1,
                          channels_last=config.channels_last, drop_last=True)
    gap_set = arch_set.subset(slice(0, config.gap_images))
    gap_batches = list(Batches(gap_set, max(config.batch_size, 64), device, NO_AUGMENT, shuffle=False,
                               channels_last=config.channels_last).epoch(0))

    stages = list(variant.plan(config.epochs, config.layers, space))
    total_epochs = sum(s.epochs for s in stages)
    ckpt_path = Path(out_dir) / "checkpoint.pt" if out_dir is not None else None
    history: list[dict[str, Any]] = []
    state = None
    s, first = 0, 0
    if resume and ckpt_path is not None and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, kind="search")
        if state["variant"] != variant.name:
            raise ValueError(f"checkpoint {ckpt_path} is from variant {state['variant']}, not {variant.name}")
        stages = [Stage.from_dict(d) for d in state["stages"]]
        s, first = int(state["stage"]), int(state["stage_epoch"]) + 1
        history = list(state["history"])
        for record in history:
            yield dict(record, resumed=True)

    while s < len(stages):
        stage = stages[s]
        model = build_supernet(variant, config, train_set.num_classes, device, stage, s)
        w_optimizer, a_optimizer, scheduler = make_optimizers(model, config, stage.epochs)
        if state is not None:
            model.load_state_dict(state["model"])
            w_optimizer.load_state_dict(state["w_optimizer"])
            a_optimizer.load_state_dict(state["a_optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"], device)
            state = None
        done_before = sum(st.epochs for st in stages[:s])
        for e in range(first, stage.epochs):
            progress = Progress(s, len(stages), done_before + e, total_epochs, e, stage.epochs)
            record = _run_epoch(model, variant, space, primitives, config, progress, w_optimizer, a_optimizer,
                                train_batches, val_batches, gap_batches, device, parses, on_step)
            scheduler.step()
            record["cells"] = stage.cells
            history.append(record)
            if ckpt_path is not None:
                save_checkpoint(ckpt_path, {
                    "kind": "search", "variant": variant.name, "variant_options": repr(variant.options()),
                    "config": asdict(config), "stages": [st.to_dict() for st in stages], "stage": s,
                    "stage_epoch": e, "model": model.state_dict(), "w_optimizer": w_optimizer.state_dict(),
                    "a_optimizer": a_optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state(device), "history": history,
                })
            yield record
        if s + 1 < len(stages):
            with torch.no_grad():
                final = {k: w.detach().cpu().numpy() for k, w in model_weights(model, variant, space).items()}
            stages[s + 1] = variant.between_stages(final, stage, stages[s + 1], space, primitives)
        s, first = s + 1, 0


def _run_epoch(model: Supernet, variant: Variant, space: SearchSpace, primitives: tuple[str, ...],
               config: SearchConfig, progress: Progress, w_optimizer, a_optimizer, train_batches: Batches,
               val_batches: Batches, gap_batches: list, device: torch.device, parses: Sequence[ParseSpec] = (),
               on_step: Callable[[int, int, int], None] | None = None) -> dict[str, Any]:
    """Train one epoch with the variant's hooks armed, then measure the indicators; the record."""
    began = time.perf_counter()
    epoch = progress.epoch
    lr = w_optimizer.param_groups[0]["lr"]
    handles = variant.hooks(model, progress)
    try:
        model.train()
        sums = {k: torch.zeros((), device=device) for k in ("train_loss", "train_correct", "val_loss", "val_correct")}
        n_train = n_val = 0
        steps_arch = not config.single_level and variant.arch_step(progress)
        # Val batches for the arch steps: this epoch's permutations, repeated if the val half is smaller.
        val_stream = itertools.chain.from_iterable(val_batches.epoch(epoch * 1000 + k) for k in itertools.count())
        steps = len(train_batches)
        for step, (x_t, y_t) in enumerate(train_batches.epoch(epoch), 1):
            val_xy = next(val_stream) if steps_arch else None
            result = search_step(model, variant, space, config, w_optimizer, a_optimizer, (x_t, y_t), val_xy, lr)
            if result.val_loss is not None:
                y_v = val_xy[1]
                sums["val_loss"] += result.val_loss * y_v.numel()
                sums["val_correct"] += (result.val_logits.argmax(1) == y_v).sum()
                n_val += y_v.numel()
            sums["train_loss"] += result.train_loss * y_t.numel()
            sums["train_correct"] += (result.train_logits.argmax(1) == y_t).sum()
            n_train += y_t.numel()
            if on_step is not None:
                on_step(step, steps, n_train + n_val)
        record = _epoch_record(model, variant, space, primitives, config, progress, lr, sums, n_train, n_val,
                               gap_batches, parses)
    finally:
        for handle in handles:
            handle.remove()
    record["seconds"] = time.perf_counter() - began
    return record


def _epoch_record(model: Supernet, variant: Variant, space: SearchSpace, primitives: tuple[str, ...],
                  config: SearchConfig, progress: Progress, lr: float, sums: dict[str, torch.Tensor], n_train: int,
                  n_val: int, gap_batches: list, parses: Sequence[ParseSpec] = ()) -> dict[str, Any]:
    with torch.no_grad():
        weights = {k: w.detach() for k, w in model_weights(model, variant, space).items()}
    masks = model.op_masks() or None
    np_masks = None if masks is None else {k: m.cpu().numpy() for k, m in masks.items()}  # parse wants numpy
    genotype = variant.parse(weights, space, primitives, np_masks)
    mask = {k: torch.tensor(v, dtype=torch.float32, device=weights[k].device)
            for k, v in space.genotype_mask(genotype, primitives).items()}
    acc_cont = supernet_accuracy(model, weights, gap_batches)
    acc_disc = supernet_accuracy(model, mask, gap_batches)
    zo_form = getattr(variant, "zero_one_form", "l2")
    first_kind, last_kind = space.cell_kinds[0], space.cell_kinds[-1]
    record: dict[str, Any] = {
        "epoch": progress.epoch,
        "stage": progress.stage,
        "lr": lr,
        "train_loss": sums["train_loss"].item() / max(n_train, 1),
        "train_acc": 100.0 * sums["train_correct"].item() / max(n_train, 1),
        "val_loss": sums["val_loss"].item() / n_val if n_val else math.nan,
        "val_acc": 100.0 * sums["val_correct"].item() / n_val if n_val else math.nan,
        "zero_one_loss": zero_one_loss(torch.cat(list(weights.values())), zo_form).item(),
        "skip_normal": genotype.skip_count(first_kind),
        "skip_reduce": genotype.skip_count(last_kind),
        "param_free_fraction": param_free_fraction(genotype),
        **weight_indicators(weights, masks, normalize=variant.activation != "sigmoid"),
        "acc_continuous": acc_cont,
        "acc_discrete": acc_disc,
        "disc_gap": acc_cont - acc_disc,
        "hessian_eig": math.nan,
        "genotype": genotype.to_json(),
        "weights": {k: w.cpu().tolist() for k, w in weights.items()},
    }
    if config.hessian_every and (progress.epoch + 1) % config.hessian_every == 0:
        x, y = gap_batches[0]
        record["hessian_eig"] = hessian_eigenvalue(model, variant, space, x, y)
    if parses:
        record["parses"] = {}
        for label, method, threshold in parses:
            parsed = variant.with_options(parse_method=method, threshold=threshold).parse(weights, space, primitives,
                                                                                         np_masks)
            one_hot = {k: torch.tensor(v, dtype=torch.float32, device=weights[k].device)
                       for k, v in space.genotype_mask(parsed, primitives).items()}
            acc = acc_disc if parsed == genotype else supernet_accuracy(model, one_hot, gap_batches)
            record["parses"][label] = {"genotype": parsed.to_json(), "skip_normal": parsed.skip_count(first_kind),
                                       "skip_reduce": parsed.skip_count(last_kind),
                                       "param_free_fraction": param_free_fraction(parsed), "acc_discrete": acc,
                                       "disc_gap": acc_cont - acc}
    return record


PARAMETER_FREE_OPS = ("none", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "noise")


def param_free_fraction(genotype) -> float:
    """Share of a genotype's edges (all cells) whose op has no parameters: none, skips, pools, noise."""
    ops = [op for kind in genotype.kinds for op, _, _ in genotype.cell(kind)[0]]
    return sum(op in PARAMETER_FREE_OPS for op in ops) / len(ops) if ops else math.nan
