"""The array kernels the workflow's stages and the notebook API share: no paths, no stores.

Each kernel works on arrays (in memory, or stored arrays read row by row) and yields its result
chunk by chunk; a stage (:mod:`camrobust.stages`) appends the chunks to its output store, and
:func:`camrobust.evaluate` concatenates them in memory, so both compute the same numbers.

- :mod:`camrobust.core.conditions`: the images of one condition (clean, or a noise's severities);
- :mod:`camrobust.core.noisy`: noisy and adversarial copies of clean images;
- :mod:`camrobust.core.model`: model input, predictions, target-layer features and model-pass maps;
- :mod:`camrobust.core.maps`: raw maps from features, plugin CAMs and maps at image resolution;
- :mod:`camrobust.core.segments`: segmentation regions of clean images;
- :mod:`camrobust.core.pairs`: the scores of (clean, noisy) CAM pairs as score-table rows.
"""
