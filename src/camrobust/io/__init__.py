"""Reading and writing the workflow's files: Zarr stores and Parquet score tables.

- :mod:`camrobust.io.store`: sharded Zarr stores written atomically and in order;
- :mod:`camrobust.io.images`: image stores (the stage-data output) and the images of a condition;
- :mod:`camrobust.io.maps`: CAM stores (raw maps) and their maps at image resolution;
- :mod:`camrobust.io.tables`: score tables (Parquet), appended row group by row group and read by group;
- :mod:`camrobust.io.chunks`: the one chunker, consecutive slices of images.

This file imports nothing, so that :mod:`camrobust.io.chunks` (which imports nothing either) stays
usable by the array kernels of :mod:`camrobust.core` and the notebook API without loading Zarr.
"""
