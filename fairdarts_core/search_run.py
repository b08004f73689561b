"""One search's state and its steps: `SearchRun` holds the variant, its space and op set (resolved once),
the config and the device, the stage plan and the history, and the current stage's supernet, optimizers
and schedule. Its methods are the bi-level loop's steps (first order, second order, single level),
which the loop in `fairdarts_core.search` and the bench's timed step (`benchmarks.perf.setups`) call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .checkpoint import rng_state, set_rng_state
from .fastops import plain_modules, speed_up
from .indicators import batch_stats_eval
from .regularizers import Regularizer
from .search_config import SearchConfig
from .spaces import SearchSpace, get_space
from .supernet import Supernet
from .variant import Progress, Sampler, Stage, Variant

XY = tuple[torch.Tensor, torch.Tensor]  # (images, labels)


@dataclass
class StepResult:
    """Detached losses and logits of one search step (val: None without an arch step)."""

    train_loss: torch.Tensor
    train_logits: torch.Tensor
    val_loss: torch.Tensor | None = None
    val_logits: torch.Tensor | None = None


@dataclass
class SearchRun:
    """A search of `variant` in config.space on `device`. full_backward=True steps as the official code,
    `loss.backward()` over every parameter (the bench's reference path); the library takes the gradients
    of what each step updates. Both give the same update."""

    variant: Variant
    config: SearchConfig
    device: torch.device | str = "cpu"
    full_backward: bool = False
    space: SearchSpace = field(init=False)
    primitives: tuple[str, ...] = field(init=False)
    stages: list[Stage] = field(init=False)  # the plan; later stages are rewritten as earlier ones end
    stage: int = 0  # the stage now running
    history: list[dict[str, Any]] = field(default_factory=list)  # the records of the epochs done
    progress: Progress | None = None  # the epoch now running (set by the loop; the variant's train_weights reads it)
    variant_options: str = field(init=False)  # the options as given (the checkpoint's record); `variant` is resolved for the space
    regularizers: tuple[Regularizer, ...] = field(init=False)  # the variant's, resolved once
    # The current stage's (start_stage):
    model: Supernet = field(init=False)
    w_optimizer: torch.optim.SGD = field(init=False)
    a_optimizer: torch.optim.Adam = field(init=False)
    scheduler: torch.optim.lr_scheduler.CosineAnnealingLR = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.variant, Sampler) or not isinstance(self.variant, Variant):
            raise ValueError(f"variant {self.variant.name} does not search; it samples genotypes")
        self.device = torch.device(self.device)
        self.space = get_space(self.config.space)
        self.variant.check_space(self.space)
        self.variant_options = repr(self.variant.options())
        self.variant = self.variant.in_space(self.space)
        self.regularizers = self.variant.regularizer_objects()
        self.config = regularized_config(self.variant, self.config)
        self.primitives = self.variant.primitives(self.space)
        self.stages = list(self.variant.plan(self.config.epochs, self.config.layers, self.space))

    # ----- building -------------------------------------------------------------------------------
    def supernet(self, num_classes: int, stage: Stage | None = None, index: int = 0) -> Supernet:
        """The supernet of one stage (default: a single stage of config.layers cells), its architecture
        parameters initialized by the variant; seeded from (config.seed, index)."""
        config, variant = self.config, self.variant
        stage = stage or Stage(config.epochs, config.layers)
        seed = config.seed + 1_000_003 * index
        torch.manual_seed(seed)
        masks = self.space.op_masks(self.primitives, stage.edge_ops())
        model = self.space.supernet(self.primitives, num_classes, config.init_channels, stage.cells, masks,
                                    variant.stage_mixed_op(index), fast=config.fast)
        gen = torch.Generator().manual_seed(seed)
        for name, shape in variant.arch_shapes(self.space, self.primitives).items():
            model.arch[name] = nn.Parameter(variant.init_arch(name, tuple(shape), gen))
        model = model.to(self.device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if config.fast and self.device.type == "cpu":
            speed_up(model)
        return model

    def start_stage(self, num_classes: int, index: int = 0) -> None:
        """Build stage `index`'s supernet, its optimizers and its cosine schedule over the stage's epochs;
        after stage index - 1, with what the variant carries over from that stage's supernet."""
        before = (self.model, self.w_optimizer, self.a_optimizer) if index and self.stage == index - 1 \
            and "model" in self.__dict__ else None
        self.stage = index
        self.model = self.supernet(num_classes, self.stages[index], index)
        self.w_optimizer, self.a_optimizer, self.scheduler = make_optimizers(self.model, self.config,
                                                                             self.stages[index].epochs)
        if before is not None:
            gen = torch.Generator().manual_seed(self.config.seed + 1_000_003 * index)
            plan = self.variant.carry(before[0], self.model, gen)
            if plan:
                take_over(plan, before, (self.model, self.w_optimizer, self.a_optimizer))

    def end_stage(self) -> None:
        """Let the variant rewrite the next stage from this stage's final weights (P-DARTS prunes)."""
        if self.stage + 1 < len(self.stages):
            with torch.no_grad():
                final = {k: w.detach().cpu().numpy() for k, w in self.weights().items()}
            self.stages[self.stage + 1] = self.variant.between_stages(final, self.stages[self.stage],
                                                                      self.stages[self.stage + 1], self.space,
                                                                      self.primitives)

    # ----- checkpoint -----------------------------------------------------------------------------
    def state_dict(self, stage_epoch: int) -> dict[str, Any]:
        """The checkpoint after epoch `stage_epoch` of the current stage."""
        return {
            "kind": "search", "variant": self.variant.name, "variant_options": self.variant_options,
            "config": asdict(self.config), "stages": [st.to_dict() for st in self.stages], "stage": self.stage,
            "stage_epoch": stage_epoch, "model": self.model.state_dict(),
            "w_optimizer": self.w_optimizer.state_dict(), "a_optimizer": self.a_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng_state(self.device), "history": self.history,
        }

    def resume_plan(self, state: Mapping[str, Any]) -> int:
        """Take a checkpoint's plan, stage and history; returns the stage epoch to continue from."""
        if state["variant"] != self.variant.name:
            raise ValueError(f"checkpoint is from variant {state['variant']}, not {self.variant.name}")
        self.stages = [Stage.from_dict(d) for d in state["stages"]]
        self.stage = int(state["stage"])
        self.history = list(state["history"])
        return int(state["stage_epoch"]) + 1

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Load a checkpoint's supernet, optimizers, schedule and RNG into the started stage."""
        self.model.load_state_dict(state["model"])
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.a_optimizer.load_state_dict(state["a_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"], self.device)

    # ----- steps ----------------------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        """The variant's activated weights of the supernet's architecture parameters (ops an edge lacks: 0)."""
        return model_weights(self.model, self.variant, self.space)

    def train_weights(self) -> dict[str, torch.Tensor]:
        """The weights this step trains with: the variant's `train_weights` at the current progress."""
        return self.variant.train_weights(self.model.masked(dict(self.model.arch)), self.space, self.progress)

    def step(self, train_xy: XY, val_xy: XY | None) -> StepResult:
        """One step of the bi-level loop: an arch step on val_xy (skipped when None: warm-up or single
        level) and a weight step on train_xy, in the order the config asks."""
        if val_xy is None or self.config.single_level:
            return StepResult(*self.weight_step(train_xy))
        if self.config.weight_step_first:
            train = self.weight_step(train_xy)
            val = self.arch_step(train_xy, val_xy)
        else:
            val = self.arch_step(train_xy, val_xy)
            train = self.weight_step(train_xy)
        return StepResult(*train, *val)

    def arch_step(self, train_xy: XY, val_xy: XY) -> tuple[torch.Tensor, torch.Tensor]:
        """One architecture step on a val batch (first or second order); returns (val loss, val logits)."""
        model, optimizer = self.model, self.a_optimizer
        optimizer.zero_grad(set_to_none=True)
        arch = model.arch_parameters()
        if self.config.order == "second":
            lr = self.w_optimizer.param_groups[0]["lr"]
            grads, val_loss = self.unrolled_arch_grads(train_xy, val_xy, lr)
            for a, g in zip(arch, grads):
                a.grad = g
            with torch.no_grad():
                val_logits = model(val_xy[0], self.weights())
            term = self.arch_term()
            if term is not None:
                for a, g in zip(arch, torch.autograd.grad(term, arch, allow_unused=True)):
                    if g is not None:
                        a.grad = a.grad + g
        else:
            total, val_loss, val_logits = self.loss(val_xy)
            term = self.arch_term()
            if term is not None:
                total = total + term
            if self.full_backward:
                total.backward()
            else:
                for a, g in zip(arch, torch.autograd.grad(total, arch, allow_unused=True)):
                    a.grad = torch.zeros_like(a) if g is None else g
        if self.config.arch_grad_clip:
            nn.utils.clip_grad_norm_(arch, self.config.arch_grad_clip)
        optimizer.step()
        return val_loss.detach(), val_logits.detach()

    def weight_step(self, train_xy: XY) -> tuple[torch.Tensor, torch.Tensor]:
        """One weight step on a train batch (single level: the alphas too); returns (train loss, logits)."""
        model, config = self.model, self.config
        self.w_optimizer.zero_grad(set_to_none=True)
        weights = self.train_weights()
        for reg in self.regularizers:
            weights = reg.perturb(self, weights, train_xy)
        total, train_loss, logits = self.loss(train_xy, weights)
        if config.single_level:
            term = self.arch_term()  # the alphas step here
            if term is not None:
                total = total + term
            self.a_optimizer.zero_grad(set_to_none=True)
            total.backward()
            if config.arch_grad_clip:
                nn.utils.clip_grad_norm_(model.arch_parameters(), config.arch_grad_clip)
            self.a_optimizer.step()
        elif self.full_backward:
            total.backward()
        else:
            # allow_unused: a single-path variant (GDAS) leaves the ops it did not sample out of the graph;
            # their gradient stays None, so SGD skips them, as after the official loss.backward().
            weights_only = model.weight_parameters()
            for p, g in zip(weights_only, torch.autograd.grad(total, weights_only, allow_unused=True)):
                p.grad = g
        nn.utils.clip_grad_norm_(model.weight_parameters(), config.grad_clip)
        self.w_optimizer.step()
        return train_loss.detach(), logits.detach()

    def loss(self, xy: XY, weights: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor,
                                                                                       torch.Tensor]:
        """(cross-entropy + the variant's arch loss, cross-entropy, logits) of the supernet on a batch, with
        `weights` (default: train_weights())."""
        weights = self.train_weights() if weights is None else weights
        logits = self.model(xy[0], weights)
        loss = F.cross_entropy(logits, xy[1])
        return self._with_arch_loss(loss, weights, self.model.arch), loss, logits

    def arch_term(self) -> torch.Tensor | None:
        """The regularizers' terms on the architecture parameters, added to the loss that steps them; None for none."""
        if not self.regularizers:
            return None
        arch = self.model.masked(dict(self.model.arch))
        terms = [t for reg in self.regularizers if (t := reg.arch_term(arch, self.progress)) is not None]
        return sum(terms[1:], terms[0]) if terms else None

    def stop_epoch(self) -> int | None:
        """After an epoch: None to go on, else the epoch whose architecture the search returns (a regularizer's
        stop rule on the history)."""
        for reg in self.regularizers:
            epoch = reg.stop(self.history, self.config)
            if epoch is not None:
                return epoch
        return None

    def unrolled_arch_grads(self, train_xy: XY, val_xy: XY, eta: float,
                            hvp_scale: float = 0.01) -> tuple[list[torch.Tensor], torch.Tensor]:
        """DARTS second-order hypergradient of L_val(w - eta * dL_train/dw, alpha) w.r.t. alpha.

        The Hessian-vector product is a central finite difference with eps = hvp_scale / ||dL_val/dw'||
        (DARTS: 0.01). ReLU and max-pool kinks make that difference coarse on tiny nets; a small
        hvp_scale in float64 recovers the exact derivative (the tests do this).
        Returns (grads for the architecture parameters, in model.arch order; the val loss at w').
        """
        group = self.w_optimizer.param_groups[0]
        params = dict(self.model.named_parameters())
        arch_names = [n for n in params if n.startswith("arch.")]
        weight_names = [n for n in params if n not in arch_names]
        # Buffers are cloned so the extra forward passes leave the running stats untouched.
        buffers = {n: b.clone() for n, b in self.model.named_buffers()}

        # w' = w - eta * (momentum buffer * mu + dL_train/dw + wd * w), as the official code.
        train_loss = self._functional_loss({**params, **buffers}, train_xy)
        grads_w = torch.autograd.grad(train_loss, [params[n] for n in weight_names], allow_unused=True)
        unrolled = dict(params)
        for n, g in zip(weight_names, grads_w):
            p = params[n]
            g = torch.zeros_like(p) if g is None else g
            buf = self.w_optimizer.state.get(p, {}).get("momentum_buffer")
            step = g + group["weight_decay"] * p.detach()
            if buf is not None:
                step = step + group["momentum"] * buf
            unrolled[n] = (p.detach() - eta * step).requires_grad_(True)
        arch_params = {n: params[n] for n in arch_names}
        val_loss = self._functional_loss({**unrolled, **arch_params, **buffers}, val_xy)
        wrt = [params[n] for n in arch_names] + [unrolled[n] for n in weight_names]
        grads = torch.autograd.grad(val_loss, wrt, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, wrt)]
        d_alpha, d_w = grads[:len(arch_names)], grads[len(arch_names):]

        norm = torch.sqrt(sum((g * g).sum() for g in d_w))
        eps = hvp_scale / norm.clamp_min(1e-12)
        implicit = []
        for sign in (1.0, -1.0):
            shifted = {n: (params[n].detach() + sign * eps * g) for n, g in zip(weight_names, d_w)}
            loss = self._functional_loss({**shifted, **arch_params, **buffers}, train_xy)
            implicit.append(torch.autograd.grad(loss, [params[n] for n in arch_names], allow_unused=True))
        hvp = [torch.zeros_like(params[n]) if gp is None else (gp - gm) / (2 * eps)
               for n, gp, gm in zip(arch_names, *implicit)]
        return [da - eta * h for da, h in zip(d_alpha, hvp)], val_loss.detach()

    def _functional_loss(self, tensors: dict[str, torch.Tensor], xy: XY) -> torch.Tensor:
        """The step's loss of the supernet run with `tensors` (parameters and buffers by name)."""
        arch = {n[len("arch."):]: p for n, p in tensors.items() if n.startswith("arch.")}
        weights = self.variant.train_weights(self.model.masked(arch), self.space, self.progress)
        logits = functional_call(self.model, tensors, (xy[0], weights))
        return self._with_arch_loss(F.cross_entropy(logits, xy[1]), weights, arch)

    def _with_arch_loss(self, loss: torch.Tensor, weights: Mapping[str, torch.Tensor],
                        arch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The cross-entropy plus the variant's architecture losses (on the weights, on the parameters)."""
        extra = self.variant.arch_loss(weights)
        loss = loss if extra is None else loss + extra
        on_params = self.variant.arch_param_loss(arch, self.space)
        return loss if on_params is None else loss + on_params

    def hessian_eigenvalue(self, xy: XY, iterations: int = 20) -> float:
        """Dominant eigenvalue of d2 L_val / d alpha2, by power iteration on Hessian-vector products."""
        model = self.model
        alphas = model.arch_parameters()
        with batch_stats_eval(model), plain_modules(model):
            loss = F.cross_entropy(model(xy[0], self.weights()), xy[1])
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


def regularized_config(variant: Variant, config: SearchConfig) -> SearchConfig:
    """The search config as the variant's regularizers run it (R-DARTS L2: its weight decay); one that cannot go
    with the config is a one-line ValueError."""
    for reg in variant.regularizer_objects():
        reg.check_config(config)
        config = reg.configure(config)
    return config


def build_supernet(variant: Variant, config: SearchConfig, num_classes: int, device: torch.device | str,
                   stage: Stage | None = None, stage_index: int = 0) -> Supernet:
    """A search's supernet outside a search (tests, figures): `SearchRun.supernet`."""
    return SearchRun(variant, config, device).supernet(num_classes, stage, stage_index)


def take_over(plan: Mapping[str, Any], old: tuple, new: tuple) -> None:
    """Apply a variant's carry plan ({new name: (old name, fn[, fn of the optimizer state])}) from (model,
    SGD, Adam) `old` to `new`: the tensors, and the optimizers' per-parameter state (tensors mapped by the
    state's fn, default fn; step counts as they are)."""
    old_tensors = {**dict(old[0].named_parameters()), **dict(old[0].named_buffers())}
    new_tensors = {**dict(new[0].named_parameters()), **dict(new[0].named_buffers())}
    with torch.no_grad():
        for name, (source, fn, *state_fn) in plan.items():
            new_tensors[name].copy_(fn(old_tensors[source]))
            fn = state_fn[0] if state_fn else fn
            for before, after in zip(old[1:], new[1:]):
                state = before.state.get(old_tensors[source])
                if state:
                    after.state[new_tensors[name]] = {
                        k: torch.empty_like(new_tensors[name]).copy_(fn(v)) if torch.is_tensor(v) and v.dim() else
                        (v.clone() if torch.is_tensor(v) else v) for k, v in state.items()}


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
