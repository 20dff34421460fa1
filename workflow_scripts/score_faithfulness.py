"""Faithfulness of one (dataset, model, cam) on the clean images: one row per image."""

from camrobust.logs import job_log
from camrobust.stages import trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.score_faithfulness(
        images_store=snakemake.input.images,
        predictions_store=snakemake.input.predictions,
        cam_store=snakemake.input.cams,
        segments_store=snakemake.input.segments,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        settings=trust.FaithfulnessSettings.of_config(snakemake.params.settings, snakemake.params.batch_size),
        keys=dict(snakemake.wildcards.items()),
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        out=snakemake.output[0],
    )
