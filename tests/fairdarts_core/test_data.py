"""Datasets as uint8 tensors, the search split, and the on-device batch iterator with augmentation."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F

from fairdarts_core.data import (NO_AUGMENT, Augment, Batches, DataError, ImageSet, cutout, load_dataset,
                                 load_digits, random_crop, search_split)




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
