"""The workflow's stages: one module per ``rules/*.smk`` file, one function per job kind.

A stage function takes paths and plain settings as keyword arguments, reads its inputs, computes
with the kernels of :mod:`camrobust.core` (or :mod:`camrobust.analysis`, :mod:`camrobust.plots`)
and writes its outputs, so every stage runs and is tested without Snakemake; the scripts in
``workflow_scripts/`` only pass the ``snakemake`` object's fields to one stage function. Heavy
libraries (torch, matplotlib) are imported inside the functions that use them, which
keeps the start-up of the many small jobs short.

Every per-item stage streams over chunks of images (:data:`camrobust.io.chunks.CHUNK_SIZE`, or
one model batch for the stages that run a model): it reads a chunk, computes, appends the result
to its output store and moves on, so its memory does not grow with the number of images, and
the stored result does not depend on the chunk size.

=====================  ====================  ===================================================
rules file             module                stages
=====================  ====================  ===================================================
stage_data.smk         stage_data            stage_images
get_model.smk          get_model             prepare_model (and load_model, its reader)
noisy_images.smk       noisy_images          perturb_images, attack_images
features.smk           features              predict_images, extract_features
cams.smk               cams                  gradient_cam_maps, model_cam_maps
segment.smk            segment               segment_images
score.smk              score                 score_cams
summarise.smk          summarise             collect_scores, summarise_robustness, statistical_tests
report.smk             report                plot_* and write_model_card
=====================  ====================  ===================================================

The stores' layouts are described in :mod:`camrobust.io`.
"""
