"""Score one (dataset, model, noise, cam): one row per image and severity."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.score_cams(
        snakemake.input.images,
        snakemake.input.segments,
        snakemake.input.clean_features,
        snakemake.input.noisy_features,
        snakemake.input.clean_cams,
        snakemake.input.noisy_cams,
        dict(snakemake.wildcards.items()),
        snakemake.params.rbo_p,
        snakemake.params.topk,
        snakemake.output[0],
    )
