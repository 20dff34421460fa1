"""Datasets: the synthetic offline "shapes" set, ImageFolder trees, ImageNet validation,
Imagenette and CIFAR-10, all staged as uint8 RGB arrays of one square size, and the ground-truth
object masks of those that have them.

The modules: :mod:`.imageset` (ImageSet, errors), :mod:`.shapes`, :mod:`.folders` (image files,
decoding and resizing), :mod:`.imagenet`, :mod:`.torchvision_sets` (Imagenette, CIFAR-10),
:mod:`.subsets` (class-balanced subsets), :mod:`.masks` (ground-truth masks) and
:mod:`.staging` (:func:`stage_dataset`, dispatch on the spec's kind). The names below are
re-exported here.
"""

from __future__ import annotations

from camrobust.datasets.folders import (
    IMAGE_EXTENSIONS,
    RESIZE_RATIO,
    Geometry,
    list_image_folder,
    load_image,
    resize_center_crop,
    staging_geometry,
    to_rgb,
)
from camrobust.datasets.imageset import SPLITS, CorruptImageError, DatasetError, ImageSet, ImageTooSmallError
from camrobust.datasets.masks import (
    box_mask,
    folder_mask_chunks,
    has_masks,
    imagenet_box_chunks,
    mask_chunks,
    read_boxes,
    read_mask,
    stored_mask_chunks,
)
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
    "Geometry",
    "ImageSet",
    "ImageTooSmallError",
    "box_mask",
    "class_balanced_order",
    "class_balanced_subset",
    "folder_mask_chunks",
    "generate_shapes",
    "has_masks",
    "imagenet_box_chunks",
    "list_image_folder",
    "load_image",
    "mask_chunks",
    "read_boxes",
    "read_mask",
    "resize_center_crop",
    "shapes_chunks",
    "stage_dataset",
    "stage_dataset_chunks",
    "staging_geometry",
    "stored_mask_chunks",
    "to_rgb",
]
