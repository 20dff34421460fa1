"""Datasets: the synthetic offline "shapes" set, ImageFolder trees, ImageNet validation,
Imagenette and CIFAR-10, all staged as uint8 RGB arrays of one square size.

The modules: :mod:`.imageset` (ImageSet, errors), :mod:`.shapes`, :mod:`.folders` (image files,
decoding and resizing), :mod:`.imagenet`, :mod:`.torchvision_sets` (Imagenette, CIFAR-10),
:mod:`.subsets` (class-balanced subsets) and :mod:`.staging` (:func:`stage_dataset`, dispatch on
the spec's kind). The names below are re-exported here.
"""

from __future__ import annotations

from camrobust.datasets.folders import (
    IMAGE_EXTENSIONS,
    RESIZE_RATIO,
    list_image_folder,
    load_image,
    resize_center_crop,
    to_rgb,
)
from camrobust.datasets.imageset import SPLITS, CorruptImageError, DatasetError, ImageSet, ImageTooSmallError
from camrobust.datasets.shapes import SHAPE_KINDS, SHAPE_VARIANTS, generate_shapes, shapes_chunks
from camrobust.datasets.staging import stage_dataset, stage_dataset_chunks
from camrobust.datasets.subsets import class_balanced_order, class_balanced_subset
from camrobust.datasets.torchvision_sets import IMAGENETTE_SIZES, IMAGENETTE_TO_IMAGENET
from camrobust.downloads import DownloadError
from camrobust.registry import DATASET_KINDS

__all__ = [
    "DATASET_KINDS",
    "IMAGENETTE_SIZES",
    "IMAGENETTE_TO_IMAGENET",
    "IMAGE_EXTENSIONS",
    "RESIZE_RATIO",
    "SHAPE_KINDS",
    "SHAPE_VARIANTS",
    "SPLITS",
    "CorruptImageError",
    "DatasetError",
    "DownloadError",
    "ImageSet",
    "ImageTooSmallError",
    "class_balanced_order",
    "class_balanced_subset",
    "generate_shapes",
    "list_image_folder",
    "load_image",
    "resize_center_crop",
    "shapes_chunks",
    "stage_dataset",
    "stage_dataset_chunks",
    "to_rgb",
]
