"""Predict + features of one condition (clean or a noise type)."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.extract_features(
        snakemake.input.images,
        snakemake.input.labels,
        snakemake.input.card,
        snakemake.input.weights,
        snakemake.params.target,
        snakemake.params.batch_size,
        snakemake.params.device,
        snakemake.output[0],
    )
