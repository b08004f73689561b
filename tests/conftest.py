"""Shared test helpers: one torch thread, the `gpu` marker's skip, slow files first, tiny synthetic image sets
(unit tests only), the bundled digits, a synthetic NB201 table, and PNG / folder checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from fairdarts_core.data import ImageSet


def synthetic_set(n: int = 64, num_classes: int = 10, seed: int = 0, size: int = 32) -> ImageSet:
    """Random uint8 images with random labels: only for shape and plumbing tests, never for results."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    return ImageSet(images, labels, num_classes, (0.5,) * 3, (0.25,) * 3, "synthetic")


def assert_png(path: Path) -> None:
    """`path` is a non-blank PNG of at least 200x100 pixels."""
    assert path.is_file() and path.stat().st_size > 0, path
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 200 and image.height >= 100
        assert image.convert("L").getextrema()[0] < 128, f"{path} is blank"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, with its bytes: to show that a refused command wrote nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----- markers and order ---------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests where torch sees no CUDA device (the one place for that condition); give every test
    without an xdist group its file's (so that --dist loadgroup keeps a file's module fixtures on one worker,
    while a study's tests, grouped by study, spread over the workers); and put the slow tests first: xdist
    hands out groups in this order, so the longest start first and the two workers finish together."""
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(str(item.path.relative_to(config.rootpath))))
    slow_files = {item.path for item in items if "slow" in item.keywords}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: each file's own order is kept


# ----- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny shapes gain nothing from intra-op threads, and on a busy 2-core machine spinning OpenMP threads made
    tests 10-20x slower. Session-scoped, so that module-scoped fixtures (a smoke run several tests read) get it too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _back_to_one_torch_thread():
    """A test that sets its own thread count leaves the next one a single thread again."""
    yield
    torch.set_num_threads(1)


@pytest.fixture
def no_ray_left_running():
    """For the Ray study and driver tests (`pytest.mark.usefixtures`): the driver starts and stops a local Ray
    itself, and no test may leave it running."""
    yield
    import ray

    assert not ray.is_initialized(), "a test left Ray running"


@pytest.fixture(scope="session")
def tiny_set() -> ImageSet:
    return synthetic_set()


@pytest.fixture(scope="session")
def search_set() -> ImageSet:
    """64 random 16x16 images: a search (which has no auxiliary head) runs 4x faster on them than on 32x32."""
    return synthetic_set(size=16)


@pytest.fixture(scope="session")
def digits():
    from fairdarts_core.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def nb201_table_file(tmp_path_factory):
    """A synthetic NB201 results table of all 15,625 cells (tests/nb201_fixture.py), written once."""
    from tests.nb201_fixture import write_table

    return write_table(tmp_path_factory.mktemp("nb201") / "nb201_synthetic.csv")
