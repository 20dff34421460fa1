"""ImageNet validation images in ImageFolder layout, and folders of ImageNet wnids in general.

A class folder named by its WordNet id (wnid) is labelled with the ImageNet-1k class index of
that wnid; class names are torchvision's ImageNet category names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from camrobust.datasets.folders import folder_staging, list_image_folder
from camrobust.datasets.imageset import DatasetError, Staging


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names in class-index order (torchvision's)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def _read_synsets(path: Path) -> list[str]:
    """wnids in ImageNet index order from a LOC_synset_mapping.txt-style file (first token per line)."""
    wnids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if len(wnids) != 1000:
        raise DatasetError(f"synsets: {path} lists {len(wnids)} wnids; expected 1000")
    return wnids


def wnid_folder_staging(
    root: Path,
    listing: tuple[Sequence[Path], np.ndarray, list[str]],
    index_of: Mapping[str, int],
    *,
    dataset: str,
    spec: dict[str, Any],
    split: str,
    seed: int,
    chunk_size: int,
) -> Staging:
    """Stage ``listing`` (:func:`~camrobust.datasets.folders.list_image_folder` of ``root``), each
    file labelled with ``index_of`` its class folder's wnid; a folder not in ``index_of`` is not a
    wnid of ``dataset``."""
    files, folder_labels, wnids = listing
    unknown = [wnid for wnid in wnids if wnid not in index_of]
    if unknown:
        raise DatasetError(f"root: {root} has class folders {unknown[:5]} that are not {dataset} wnids")
    labels = np.asarray([index_of[wnids[k]] for k in folder_labels], dtype=np.int64)
    return folder_staging(
        root, files, labels, imagenet_categories(), spec=spec, split=split, seed=seed, chunk_size=chunk_size
    )


def imagenet_wnids(spec: dict[str, Any], root: Path, folders: Sequence[str]) -> list[str]:
    """The 1000 wnids in ImageNet class-index order: ``spec["synsets"]`` (a LOC_synset_mapping.txt)
    when set, else the class ``folders`` of ``root`` when they are all 1000 (sorted)."""
    if "synsets" in spec:
        return _read_synsets(Path(spec["synsets"]))
    if len(folders) == 1000:
        return list(folders)
    raise DatasetError(
        f"root: {root} has {len(folders)} class folders; ImageNet validation needs all 1000 wnid folders, "
        "or set synsets: <path to LOC_synset_mapping.txt> to map a subset"
    )


def stage_imagenet_val(spec: dict[str, Any], split: str, seed: int, chunk_size: int) -> Staging:
    """ImageNet validation in ImageFolder layout (``root/<wnid>/<image>``). Class index = position of
    the wnid in the sorted list of all 1000 wnids, or in ``spec["synsets"]`` (a
    LOC_synset_mapping.txt) when only some class folders are present."""
    if split != "eval":
        raise DatasetError(f"split: {split!r} not available for kind 'imagenet_val'; allowed: eval")
    root = Path(spec["root"])
    listing = list_image_folder(root)
    index_of = {wnid: i for i, wnid in enumerate(imagenet_wnids(spec, root, listing[2]))}
    return wnid_folder_staging(
        root, listing, index_of, dataset="ImageNet", spec=spec, split="eval", seed=seed, chunk_size=chunk_size
    )
