"""Datasets as uint8 tensors, the search split, and the on-device batch iterator with augmentation."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import fairdarts_core.data as data_module
from fairdarts_core.data import (
    CACHE_NAME,
    NO_AUGMENT,
    Augment,
    Batches,
    DataError,
    ImageSet,
    cutout,
    load_dataset,
    load_digits,
    load_image_folder,
    random_crop,
    search_split,
)


@pytest.fixture(scope="module")
def digits() -> tuple[ImageSet, ImageSet]:
    return load_digits()


@pytest.fixture(scope="module")
def small(digits) -> ImageSet:
    return digits[0].subset(slice(0, 100), "digits-small")


def _hashes(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in images}


def test_digits_shapes_and_types(digits):
    train, test = digits
    assert len(train) == 4000 and len(test) == 1000
    for ds in (train, test):
        assert ds.images.dtype == torch.uint8
        assert ds.images.shape == (len(ds), 3, 32, 32)
        assert ds.labels.dtype == torch.int64 and ds.labels.shape == (len(ds),)
        assert ds.num_classes == 10
        assert set(ds.labels.tolist()) == set(range(10))
    # Grey digits replicated to 3 channels, padded by 2 (28x28 -> 32x32).
    assert torch.equal(train.images[:, 0], train.images[:, 1])
    assert int(train.images[:, :, :2].max()) == 0 and int(train.images[:, :, :, -2:].max()) == 0
    assert int(train.images.max()) > 200


def test_digits_splits_are_disjoint_and_fixed(digits):
    train, test = digits
    train_h, test_h = _hashes(train.images), _hashes(test.images)
    assert len(train_h) == 4000 and len(test_h) == 1000  # no repeated image inside a split
    assert not train_h & test_h
    again_train, again_test = load_digits()
    assert torch.equal(again_train.images[:8], train.images[:8])
    assert torch.equal(again_test.labels, test.labels)


def test_search_split_halves(digits):
    train = digits[0]
    a, b = search_split(train)
    assert len(a) == len(b) == 2000
    assert torch.equal(a.images, train.images[:2000]) and torch.equal(b.images, train.images[2000:])
    assert torch.equal(torch.cat([a.labels, b.labels]), train.labels)
    assert not _hashes(a.images[:200]) & _hashes(b.images[:200])
    assert a.name != b.name


@pytest.mark.parametrize("portion", [0.0, 1.0, -0.5, 1.5])
def test_search_split_rejects_bad_portion(digits, portion):
    with pytest.raises(DataError):
        search_split(digits[0], portion)


def test_batches_are_normalized_float_of_the_right_shape(small):
    batches = Batches(small, batch_size=32, augment=NO_AUGMENT, shuffle=False)
    got = list(batches.epoch(0))
    assert len(batches) == 4 and len(got) == 4
    assert [x.shape[0] for x, _ in got] == [32, 32, 32, 4]
    x, y = got[0]
    assert x.dtype == torch.float32 and x.shape == (32, 3, 32, 32)
    mean = torch.tensor(small.mean).view(1, 3, 1, 1)
    std = torch.tensor(small.std).view(1, 3, 1, 1)
    expected = (small.images[:32].float() / 255 - mean) / std
    assert torch.allclose(x, expected, atol=1e-5)
    assert torch.equal(y, small.labels[:32])
    assert len(Batches(small, batch_size=32, drop_last=True)) == 3


def test_normalization_centres_the_whole_set(digits):
    x, _ = next(Batches(digits[0], batch_size=4000, augment=NO_AUGMENT).epoch(0))
    assert abs(float(x.mean())) < 0.05
    assert abs(float(x.std()) - 1.0) < 0.05


def test_shuffled_epoch_is_a_permutation(small):
    labels = torch.cat([y for _, y in Batches(small, batch_size=16, seed=3).epoch(0)])
    assert sorted(labels.tolist()) == sorted(small.labels.tolist())
    assert not torch.equal(labels, small.labels)


AUG = Augment(crop_padding=4, flip=True, cutout=16)


def test_same_seed_and_epoch_replay_identical_batches(small):
    a = list(Batches(small, batch_size=16, augment=AUG, seed=7).epoch(2))
    b = list(Batches(small, batch_size=16, augment=AUG, seed=7).epoch(2))
    assert len(a) == len(b) == 7
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_different_epochs_and_seeds_differ(small):
    e2 = next(Batches(small, batch_size=16, augment=AUG, seed=7).epoch(2))
    e3 = next(Batches(small, batch_size=16, augment=AUG, seed=7).epoch(3))
    other_seed = next(Batches(small, batch_size=16, augment=AUG, seed=8).epoch(2))
    assert not torch.equal(e2[1], e3[1])  # another order
    assert not torch.equal(e2[0], e3[0])
    assert not torch.equal(e2[0], other_seed[0])


def test_forever_continues_into_the_next_epoch(small):
    batches = Batches(small, batch_size=50, augment=AUG, seed=1)
    stream = batches.forever(start_epoch=5)
    got = [next(stream) for _ in range(4)]
    expected = list(batches.epoch(5)) + list(batches.epoch(6))
    for (xa, ya), (xb, yb) in zip(got, expected):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_random_crop_with_padding_0_is_the_identity():
    x = torch.rand(4, 3, 32, 32)
    assert torch.equal(random_crop(x, 0, torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long)), x)


def test_random_crop_matches_a_slice_of_the_padded_image():
    b, pad = 6, 4
    x = torch.arange(b * 3 * 32 * 32, dtype=torch.float32).view(b, 3, 32, 32) + 1  # every pixel distinct
    gen = torch.Generator().manual_seed(123)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    out = random_crop(x, pad, dy, dx)
    padded = F.pad(x, (pad,) * 4)
    assert out.shape == x.shape
    for i in range(b):
        y0, x0 = int(dy[i]), int(dx[i])
        assert torch.equal(out[i], padded[i, :, y0:y0 + 32, x0:x0 + 32]), i
    assert len({(int(a), int(c)) for a, c in zip(dy, dx)}) > 1  # offsets do vary


def test_cutout_zeros_at_most_a_16x16_square_per_image():
    x = torch.rand(32, 3, 32, 32) + 1.0  # no zeros before cutout
    gen = torch.Generator().manual_seed(0)
    out = cutout(x, 16, torch.randint(0, 32, (32,), generator=gen), torch.randint(0, 32, (32,), generator=gen))
    assert out.shape == x.shape
    zeros = out == 0
    assert torch.equal(zeros[:, 0], zeros[:, 1]) and torch.equal(zeros[:, 0], zeros[:, 2])
    assert torch.equal(out[~zeros], x[~zeros])
    sizes = set()
    for mask in zeros[:, 0]:
        rows = mask.any(dim=1).nonzero().flatten()
        cols = mask.any(dim=0).nonzero().flatten()
        assert 1 <= len(rows) <= 16 and 1 <= len(cols) <= 16
        # the zeroed pixels fill one rectangle
        assert int(mask.sum()) == len(rows) * len(cols)
        assert int(rows[-1] - rows[0]) + 1 == len(rows) and int(cols[-1] - cols[0]) + 1 == len(cols)
        sizes.add(int(mask.sum()))
    assert max(sizes) == 256  # centred away from the border, the full square
    assert min(sizes) < 256  # clipped at the border for some


def test_load_cifar_from_a_missing_folder_raises():
    with pytest.raises(DataError):
        load_dataset("cifar10", data_dir="/nonexistent")


def test_load_cifar_without_a_folder_raises():
    with pytest.raises(DataError):
        load_dataset("cifar10")


def test_load_cifar_from_an_empty_folder_raises(tmp_path):
    with pytest.raises(DataError):
        load_dataset("cifar100", data_dir=tmp_path)


def test_unknown_dataset_raises():
    with pytest.raises(DataError) as info:
        load_dataset("imagenet")
    assert "digits" in str(info.value)


def test_bad_batch_size_raises(small):
    with pytest.raises(DataError):
        Batches(small, batch_size=0)


def test_a_batch_draws_its_random_numbers_in_a_fixed_order_from_its_generator(small):
    """Crop offsets, then flips, then cutout centres, from the epoch's CPU generator after the permutation:
    the same numbers on every device (they are moved in one copy where the batch lives elsewhere)."""
    batches = Batches(small, batch_size=8, augment=Augment(cutout=16), seed=3)
    x, _ = next(batches.epoch(2))
    gen = torch.Generator().manual_seed(3 * 100_003 + 2)
    order = torch.randperm(len(small), generator=gen)
    dy, dx = (torch.randint(0, 9, (8,), generator=gen) for _ in range(2))
    flip = torch.rand(8, generator=gen) < 0.5
    cy, cx = (torch.randint(0, 32, (8,), generator=gen) for _ in range(2))
    raw = random_crop(small.images[order[:8]].float(), 4, dy, dx)
    raw = torch.where(flip.view(-1, 1, 1, 1), raw.flip(3), raw)
    expected = cutout((raw - batches.mean) / batches.std, 16, cy, cx)
    assert torch.equal(x, expected)


def test_autoaugment_is_reproducible_and_leaves_the_global_generator_alone(small):
    batches = Batches(small, batch_size=4, augment=Augment(autoaugment=True), seed=0)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a, _ = next(batches.epoch(0))
    assert torch.equal(torch.get_rng_state(), before)
    b, _ = next(batches.epoch(0))
    assert torch.equal(a, b)


# --- the image-folder dataset -------------------------------------------------------------------------------

FOLDER_CLASSES = ("cat", "ant", "bee")  # written unsorted: the labels follow the sorted names ant, bee, cat


def _write_folder(root: Path, n_train: int = 4, n_test: int = 2, seed: int = 0) -> dict[str, list]:
    """3 classes of random 32x32 PNGs, plus one JPEG (upper-case extension), one greyscale PNG and a
    non-image file; returns per split the expected (pixels HWC uint8, label) in the loader's order."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for cls in FOLDER_CLASSES:
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / cls / f"{i:02d}.png")
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "train" / "cat" / "99.JPG",
                                                                           quality=90)
    Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8), mode="L").save(root / "test" / "bee" / "50.png")
    (root / "train" / "bee" / "notes.txt").write_text("not an image")
    return _expected(root)


def _expected(root: Path) -> dict[str, list]:
    """The (pixels, label) of every image, decoded here with PIL (PNG round-trips exactly)."""
    out = {}
    for split in ("train", "test"):
        out[split] = []
        for label, cls in enumerate(sorted(FOLDER_CLASSES)):
            for f in sorted((root / split / cls).iterdir()):
                if f.suffix.lower() in (".png", ".jpg"):
                    out[split].append((np.asarray(Image.open(f).convert("RGB")), label))
    return out


@pytest.fixture
def folder(tmp_path) -> tuple[Path, dict[str, list]]:
    root = tmp_path / "imgs"
    return root, _write_folder(root)


def _no_decoding(monkeypatch):
    def fail(files):
        raise AssertionError(f"decoded {len(files)} files instead of reading the cache")
    monkeypatch.setattr(data_module, "_decode_images", fail)


def test_folder_loads_shapes_labels_and_exact_pixels(folder, monkeypatch):
    root, expected = folder
    monkeypatch.setattr(data_module, "DECODE_CHUNK", 3)  # several thread-pool tasks: the order must hold
    train, test = load_dataset("folder", root)
    assert (len(train), len(test)) == (13, 7)  # 3x4 PNG + 1 JPEG; 3x2 PNG + 1 grey PNG; notes.txt ignored
    for ds, split in ((train, "train"), (test, "test")):
        # the files in class and name order, then one fixed seeded permutation (data.shuffled)
        order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
        assert ds.images.dtype == torch.uint8 and ds.images.shape == (len(ds), 3, 32, 32)
        assert ds.images.is_contiguous()
        assert ds.labels.dtype == torch.int64 and ds.num_classes == 3
        assert ds.labels.tolist() == [expected[split][i][1] for i in order.tolist()]
        pixels = torch.from_numpy(np.stack([px for px, _ in expected[split]])).permute(0, 3, 1, 2)
        assert torch.equal(ds.images, pixels[order])
    assert sorted(train.labels.tolist()) == [0] * 4 + [1] * 4 + [2] * 5
    assert train.labels.tolist() != sorted(train.labels.tolist())  # not class by class
    grey = test.images[torch.randperm(len(test), generator=torch.Generator().manual_seed(0)).tolist().index(4)]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[0], grey[2])  # bee/50.png, the grey PNG, as RGB
    assert (train.name, test.name) == ("folder-train", "folder-test")
    assert (root / CACHE_NAME).is_file()  # default cache: inside the folder


def test_folder_normalization_is_the_train_splits_per_channel_stats(folder):
    root, expected = folder
    train, test = load_image_folder(root)
    pixels = np.stack([px for px, _ in expected["train"]]).astype(np.float64) / 255  # (N, H, W, C)
    assert train.mean == pytest.approx(tuple(pixels.mean(axis=(0, 1, 2))), rel=1e-12)
    assert train.std == pytest.approx(tuple(pixels.std(axis=(0, 1, 2), ddof=1)), rel=1e-12)
    assert (test.mean, test.std) == (train.mean, train.std)
    assert len(set(train.mean)) == 3  # per channel, not one number


def test_folder_second_call_reads_the_cache(folder, monkeypatch):
    root, _ = folder
    train, test = load_image_folder(root)
    cache = root / CACHE_NAME
    mtime = cache.stat().st_mtime_ns
    _no_decoding(monkeypatch)
    train2, test2 = load_dataset("folder", root, False)  # the positional (name, data_dir, download) order
    assert torch.equal(train2.images, train.images) and torch.equal(test2.labels, test.labels)
    assert (train2.mean, train2.std, train2.num_classes) == (train.mean, train.std, train.num_classes)
    assert cache.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in root.iterdir()) == sorted([CACHE_NAME, "test", "train"])  # no temp file left


@pytest.mark.parametrize("change", ["add", "remove", "rewrite"])
def test_folder_change_rebuilds_the_cache(folder, change):
    root, _ = folder
    load_image_folder(root)
    target = root / "train" / "ant" / "00.png"
    new = np.full((32, 32, 3), 7, dtype=np.uint8)
    if change == "add":
        Image.fromarray(new).save(root / "train" / "ant" / "05.png")
    elif change == "remove":
        target.unlink()
    else:
        st = target.stat()
        Image.fromarray(new).save(target)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new mtime even on a coarse clock
    train, _ = load_image_folder(root)
    assert len(train) == {"add": 14, "remove": 12, "rewrite": 13}[change]
    assert train.labels.tolist().count(0) == {"add": 5, "remove": 3, "rewrite": 4}[change]
    if change in ("add", "rewrite"):  # ant/05.png (file 4) or ant/00.png (file 0), after the fixed permutation
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
        at = order.index(4 if change == "add" else 0)
        assert torch.equal(train.images[at], torch.from_numpy(new).permute(2, 0, 1))
    loaded = torch.load(root / CACHE_NAME, weights_only=True)
    assert loaded["train_images"].shape[0] == len(train)  # the rebuilt cache was written


def test_folder_corrupt_cache_is_rebuilt(folder, monkeypatch):
    root, _ = folder
    first, _ = load_image_folder(root)
    (root / CACHE_NAME).write_bytes(b"not a torch file")
    again, _ = load_image_folder(root)
    assert torch.equal(again.images, first.images)
    _no_decoding(monkeypatch)  # the rewritten cache is valid again
    assert torch.equal(load_image_folder(root)[0].images, first.images)


def test_folder_cache_dir_holds_the_cache(folder, tmp_path, monkeypatch):
    root, _ = folder
    cache_dir = tmp_path / "cache" / "nested"  # created on demand
    train, _ = load_dataset("folder", root, cache_dir=cache_dir)
    files = list(cache_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"
    assert not (root / CACHE_NAME).exists()
    _no_decoding(monkeypatch)
    assert torch.equal(load_image_folder(root, cache_dir=cache_dir)[0].images, train.images)


def test_folder_not_writable_caches_under_home(folder, tmp_path, monkeypatch):
    root, _ = folder
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    real_access = os.access
    monkeypatch.setattr(data_module.os, "access",
                        lambda path, mode, **kw: False if Path(path) == root and mode == os.W_OK
                        else real_access(path, mode, **kw))
    load_image_folder(root)
    assert not (root / CACHE_NAME).exists()
    assert len(list((tmp_path / "home" / ".cache" / "darts-bench").glob("*.pt"))) == 1


def _png(path: Path, size=(32, 32)) -> None:
    Image.fromarray(np.zeros((size[1], size[0], 3), dtype=np.uint8)).save(path)


def _break(root: Path, how: str) -> tuple[Path, list[str]]:
    """Damage the folder one way; returns the path to load and the strings the error must name."""
    if how == "missing dir":
        return root / "nope", [str(root / "nope")]
    if how == "missing test":
        shutil.rmtree(root / "test")
        return root, [str(root / "test")]
    if how == "no classes":
        for split in ("train", "test"):
            shutil.rmtree(root / split)
            (root / split).mkdir()
        return root, [str(root / "train"), "no class folders"]
    if how == "empty class":
        for f in (root / "test" / "bee").glob("*.png"):
            f.unlink()
        return root, [str(root / "test" / "bee"), "no images"]
    if how == "class mismatch":
        (root / "test" / "cat").rename(root / "test" / "cow")
        return root, ["cat", "cow", str(root / "test")]
    if how == "corrupt jpeg":
        (root / "train" / "bee" / "02.jpg").write_bytes(b"\xff\xd8\xff garbage, not a jpeg")
        return root, [str(root / "train" / "bee" / "02.jpg")]
    if how == "truncated png":
        data = (root / "test" / "ant" / "01.png").read_bytes()
        (root / "test" / "ant" / "01.png").write_bytes(data[:len(data) // 2])
        return root, [str(root / "test" / "ant" / "01.png")]
    if how == "wrong size":
        _png(root / "train" / "cat" / "03.png", (33, 32))
        return root, [str(root / "train" / "cat" / "03.png"), "33x32"]
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing dir", "missing test", "no classes", "empty class", "class mismatch",
                                 "corrupt jpeg", "truncated png", "wrong size"])
def test_folder_errors_are_one_line_and_name_the_path(folder, how):
    root, _ = folder
    path, names = _break(root, how)
    with pytest.raises(DataError) as info:
        load_image_folder(path)
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message, (name, message)
    assert not (root / CACHE_NAME).exists()  # nothing cached from a broken folder


def test_folder_without_a_data_dir_raises():
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset("folder")
