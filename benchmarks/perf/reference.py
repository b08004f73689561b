"""The official code's data path, for the plain reference of the benchmarks: a torchvision-style
dataset of PIL images behind DataLoader workers, and synthetic CIFAR-sized images (speed only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

REFERENCE_WORKERS = 2  # the official code's DataLoader(num_workers=2)


def synthetic_image_set(n: int, num_classes: int = 10, seed: int = 0):
    """n random CIFAR-sized uint8 images with random labels. For timing only (see the module docstring)."""
    from fairdarts_core.data import CIFAR_MEAN, CIFAR_STD, ImageSet

    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    return ImageSet(images, labels, num_classes, CIFAR_MEAN, CIFAR_STD, "synthetic-cifar")


class Cutout:
    """The official DARTS Cutout: zero a length x length square (clipped at the border) of a CHW tensor."""

    def __init__(self, length: int):
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[1], img.shape[2]
        mask = np.ones((h, w), np.float32)
        y, x = np.random.randint(h), np.random.randint(w)
        y1, y2 = np.clip(y - self.length // 2, 0, h), np.clip(y + self.length // 2, 0, h)
        x1, x2 = np.clip(x - self.length // 2, 0, w), np.clip(x + self.length // 2, 0, w)
        mask[y1:y2, x1:x2] = 0.0
        return img * torch.from_numpy(mask).expand_as(img)


def reference_transform(mean, std, augment: bool = True, cutout: int = 0):
    """The official torchvision pipeline: [RandomCrop(32, 4), flip,] ToTensor, Normalize[, Cutout]."""
    from torchvision import transforms

    steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if augment else []
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    if cutout:
        steps.append(Cutout(cutout))
    return transforms.Compose(steps)


class PILImageDataset(torch.utils.data.Dataset):
    """A torchvision-style map dataset: HWC uint8 arrays (like `CIFAR10.data`) -> PIL image -> transform."""

    def __init__(self, data, transform: Callable):
        self.images = data.images.permute(0, 2, 3, 1).contiguous().numpy()  # (N, 32, 32, 3) uint8
        self.labels = data.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def reference_loader(dataset, batch_size: int, device: torch.device, indices=None,
                     shuffle: bool = True) -> torch.utils.data.DataLoader:
    """DataLoader(num_workers=2, pin_memory on CUDA), over `indices` by a SubsetRandomSampler as the official search."""
    sampler = torch.utils.data.SubsetRandomSampler(list(indices)) if indices is not None else None
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                                       shuffle=shuffle if sampler is None else None,
                                       num_workers=REFERENCE_WORKERS, pin_memory=device.type == "cuda")


def persistent(loader) -> Iterator:
    """Batches from one iterator (a new one only at the end of an epoch), as `for x, y in queue:`."""
    while True:
        yield from loader


def to_device(xy, device: torch.device):
    x, y = xy
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


