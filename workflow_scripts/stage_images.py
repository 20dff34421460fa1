"""Stage data: one split of a dataset into an images store."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.stage_images(
        spec=snakemake.params.spec, split=snakemake.params.split, seed=snakemake.params.seed, out=snakemake.output[0]
    )
