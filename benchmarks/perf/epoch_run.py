"""One real epoch of the search or the training loop on synthetic CIFAR-sized data (speed only), as a
JSON line: step_ms, images_per_s, peak_mem_mb first. gpu_check.sh runs it for the cost projection.

    python -m benchmarks.perf.epoch_run search|train DEVICE IMAGES TEST_IMAGES BATCH CHANNELS LAYERS
(0 for BATCH, CHANNELS or LAYERS: the paper preset's.)"""

from __future__ import annotations

import json
import math
import sys
import time

from fairdarts_core.checkpoint import resolve_device

from .reference import synthetic_image_set
from .timing import peak_memory_mb, peak_reserved_mb, reset_peak_memory, synchronize


def main(argv: list[str]) -> dict:
    kind, device_name = argv[0], argv[1]
    n, n_test, batch, channels, layers = map(int, argv[2:7])
    device = resolve_device(device_name)
    data = synthetic_image_set(n, seed=0)  # random images: only the speed is measured
    sizes = {k: v for k, v in (("batch_size", batch), ("init_channels", channels), ("layers", layers)) if v}
    if kind == "search":
        from fairdarts_core.search import search
        from fairdarts_core.sizes import PRESETS
        from variants import make_variant

        variant = make_variant("fair_darts")
        config = PRESETS["paper"].search_config(variant, {"epochs": 1, **sizes})
        run = search(variant, data, config, device)
        steps = (n // 2) // config.batch_size  # the weight half, drop_last; each step also takes a val batch
        desc = {"variant": variant.name}
    else:
        from fairdarts_core import PUBLISHED_GENOTYPES
        from fairdarts_core.sizes import PRESETS
        from fairdarts_core.train import train

        config = PRESETS["paper"].train_config("darts", {"epochs": 1, **sizes,
                                                         "eval_batch_size": max(batch, 64) if batch else None})
        run = train(PUBLISHED_GENOTYPES["FairDARTS_a"], data, synthetic_image_set(n_test, seed=1), config, device)
        steps = -(-n // config.batch_size)
        desc = {"genotype": "FairDARTS_a", "test_images": n_test}
    reset_peak_memory(device)
    synchronize(device)
    began = time.perf_counter()
    record = next(iter(run))  # builds the model, moves the data, runs the epoch and its end-of-epoch evaluation
    synchronize(device)
    wall = time.perf_counter() - began
    seconds = record["seconds"]
    images = steps * config.batch_size if kind == "search" else n
    reserved = peak_reserved_mb(device)
    return {
        "step_ms": round(1e3 * seconds / steps, 3), "images_per_s": round(images / seconds, 2),
        "peak_mem_mb": round(peak_memory_mb(device), 1),
        **({"peak_reserved_mb": round(reserved, 1)} if reserved is not None else {}),
        "what": f"{kind}_epoch", "device": str(device), "epoch_seconds": round(seconds, 2), "wall_s": round(wall, 2),
        "steps": steps, "images": images, "batch_size": config.batch_size, "init_channels": config.init_channels,
        "layers": config.layers, **desc,
        **{k: v for k, v in record.items()  # the record's numbers (strict JSON: no NaN)
           if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
           and k not in ("seconds", "images_per_s")},
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
