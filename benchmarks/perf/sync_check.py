"""Host-device syncs inside the step loops: runs a few search and training steps (with their batches)
under `torch.cuda.set_sync_debug_mode("error")`, which raises at the first operation that waits for
the GPU. Prints one JSON line {"search_steps_ok", "train_steps_ok", "errors"}. CUDA only.

    python -m benchmarks.perf.sync_check [DEVICE]"""

from __future__ import annotations

import argparse
import json
import sys

import torch


def _steps(args: argparse.Namespace, device: torch.device, steps: int = 3) -> str | None:
    from .setups import SETUPS

    prepared = SETUPS[args.what](args, device)
    prepared.step()  # warm-up outside the check: building, first-touch allocations
    torch.cuda.synchronize(device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(steps):
            prepared.step()
        return None
    except RuntimeError as err:
        return f"{args.what}: {str(err).splitlines()[0]}"
    finally:
        torch.cuda.set_sync_debug_mode("default")


def main(device_name: str = "cuda") -> dict:
    from benchmarks.cli import build_parser

    device = torch.device(device_name)
    if device.type != "cuda" or not torch.cuda.is_available():
        return {"skipped": "the sync check needs a CUDA device"}
    errors = {}
    for what, extra in (("search", ["--batch-size", "32"]), ("train", ["--batch-size", "32"])):
        args = build_parser().parse_args(["bench", "--what", what, "--device", device_name, *extra])
        error = _steps(args, device)
        if error:
            errors[what] = error
    return {"search_steps_ok": "search" not in errors, "train_steps_ok": "train" not in errors, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:2])))
