"""Predictions and CAM targets of one condition (clean or a noise type)."""

from camrobust.logs import job_log
from camrobust.stages import features

with job_log(snakemake.log[0], snakemake.threads):
    features.predict_images(
        images_store=snakemake.input.images,
        labels_store=snakemake.input.labels,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        target_mode=snakemake.params.target,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
        out=snakemake.output[0],
    )
