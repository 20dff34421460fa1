"""Imagenette and CIFAR-10, downloaded with torchvision when they are not on disk.

torchvision is imported only when one of them is staged. A download goes through
:func:`camrobust.downloads.fetch_or_explain` (fails fast without network, saying what to place
where); an archive already in place is checked (md5) and extracted without touching the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from camrobust.datasets.folders import list_image_folder
from camrobust.datasets.imagenet import wnid_folder_staging
from camrobust.datasets.imageset import DatasetError, ImageSet, Staging
from camrobust.datasets.subsets import class_balanced_subset
from camrobust.downloads import DownloadError, fetch_or_explain

# Imagenette wnid -> ImageNet-1k class index (tench, English springer, cassette player, chain saw,
# church, French horn, garbage truck, gas pump, golf ball, parachute).
IMAGENETTE_TO_IMAGENET: dict[str, int] = {
    "n01440764": 0,
    "n02102040": 217,
    "n02979186": 482,
    "n03000684": 491,
    "n03028079": 497,
    "n03394916": 566,
    "n03417042": 569,
    "n03425413": 571,
    "n03445777": 574,
    "n03888257": 701,
}
IMAGENETTE_SIZES: dict[str, str] = {
    "160px": "imagenette2-160",
    "320px": "imagenette2-320",
    "full": "imagenette2",
}


def _extract_or_download(archive: Path, md5: str, download: Callable[[], Any], host: str, placement: str) -> Any:
    """Run torchvision's ``download``: with ``archive`` in place (md5 checked first) it only
    extracts, touching no network; otherwise it downloads via :func:`fetch_or_explain`."""
    from torchvision.datasets.utils import check_integrity

    if not archive.is_file():
        return fetch_or_explain(download, host, placement)
    if not check_integrity(str(archive), md5):
        raise DownloadError(f"{archive} is incomplete or corrupt (md5 is not {md5}); replace it. {placement}")
    return download()


def stage_imagenette(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> Staging:
    """Imagenette (torchvision download into ``root``); labels are ImageNet-1k class indices."""
    import torchvision

    root = Path(spec.get("root", "data"))
    size = spec.get("size", "160px")
    if size not in IMAGENETTE_SIZES:
        raise DatasetError(f"size: {size!r} unknown for imagenette; allowed: {', '.join(IMAGENETTE_SIZES)}")
    folder = root / IMAGENETTE_SIZES[size]
    archive = root / f"{IMAGENETTE_SIZES[size]}.tgz"
    tv_split = "val" if split == "eval" else "train"
    if not folder.is_dir():
        placement = (
            f"could not download Imagenette ({archive.name}); place the extracted folder at {folder}/ "
            f"(train/ and val/ with wnid class folders) or the archive at {archive}"
        )

        def download() -> Any:
            return torchvision.datasets.Imagenette(str(root), split=tv_split, size=size, download=True)

        md5 = torchvision.datasets.Imagenette._ARCHIVES[size][1]
        _extract_or_download(archive, md5, download, "s3.amazonaws.com", placement)
    image_root = folder / tv_split
    return wnid_folder_staging(
        image_root,
        list_image_folder(image_root),
        IMAGENETTE_TO_IMAGENET,
        dataset="Imagenette",
        spec=dict(spec) if split == "eval" else {**spec, "n_images": 0},
        split=split,
        seed=seed,
        chunk_size=chunk_size,
    )


def stage_cifar10(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> Staging:
    """CIFAR-10 (torchvision download into ``root``) test set for "eval", train set for "train";
    the 32 px images are resized (bilinear) to ``image_size`` one chunk at a time (torchvision
    holds the whole 32 px set in memory anyway)."""
    import torchvision

    root = Path(spec.get("root", "data"))
    image_size = int(spec.get("image_size", 32))
    train = split == "train"
    placement = (
        f"could not download CIFAR-10 (cifar-10-python.tar.gz); place cifar-10-python.tar.gz in {root}/ "
        f"(or its extracted folder at {root}/cifar-10-batches-py/)"
    )

    def open_dataset(download: bool) -> Any:
        return torchvision.datasets.CIFAR10(str(root), train=train, download=download)

    try:
        dataset = open_dataset(download=False)
    except RuntimeError:
        dataset = _extract_or_download(
            root / torchvision.datasets.CIFAR10.filename,
            torchvision.datasets.CIFAR10.tgz_md5,
            lambda: open_dataset(download=True),
            "www.cs.toronto.edu",
            placement,
        )
    labels = np.asarray(dataset.targets, dtype=np.int64)
    n = int(spec.get("n_train" if train else "n_images", len(labels)) or len(labels))
    indices = class_balanced_subset(labels, n, seed)
    prefix = "train" if train else "test"
    class_names = list(dataset.classes)

    def chunks() -> Iterator[ImageSet]:
        for start in range(0, len(indices), chunk_size):
            rows = indices[start : start + chunk_size]
            yield ImageSet(
                images=_resize_square(dataset.data[rows], image_size),
                labels=labels[rows],
                ids=[f"{prefix}-{i:05d}" for i in rows],
                class_names=class_names,
            )

    return Staging(len(indices), [], chunks())


def _resize_square(images: np.ndarray, image_size: int) -> np.ndarray:
    """uint8 (N,S,S,3) images resized (bilinear) to ``image_size``, as a C-contiguous array."""
    if image_size != images.shape[1]:
        images = np.stack(
            [
                np.asarray(Image.fromarray(img).resize((image_size, image_size), Image.Resampling.BILINEAR))
                for img in images
            ]
        )
    return np.ascontiguousarray(images)
