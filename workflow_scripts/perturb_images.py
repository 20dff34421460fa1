"""Noisy images: all severities of one model-free noise type."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.perturb_images(
        snakemake.input[0],
        snakemake.wildcards.noise,
        snakemake.params.severities,
        snakemake.params.noise_params,
        snakemake.params.seed,
        snakemake.wildcards.dataset,
        snakemake.output[0],
    )
