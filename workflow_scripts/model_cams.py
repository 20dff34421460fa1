"""CAMs of one method that needs the model (ScoreCAM, AblationCAM)."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.model_cam_maps(
        snakemake.input.images,
        snakemake.input.features,
        snakemake.input.card,
        snakemake.input.weights,
        snakemake.wildcards.cam,
        snakemake.params.batch_size,
        snakemake.params.channel_batch_size,
        snakemake.params.device,
        snakemake.output[0],
    )
