"""Noisy images: all severities of one attack against one model."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.attack_images(
        snakemake.input.images,
        snakemake.input.card,
        snakemake.input.weights,
        snakemake.wildcards.noise,
        snakemake.params.severities,
        snakemake.params.noise_params,
        snakemake.params.seed,
        snakemake.wildcards.dataset,
        snakemake.params.batch_size,
        snakemake.params.device,
        snakemake.output[0],
    )
