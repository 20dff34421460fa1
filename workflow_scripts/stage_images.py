"""Stage data: one split of a dataset into an images store."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    split = "train" if snakemake.rule == "stage_training_images" else "eval"
    pipeline.stage_images(snakemake.params.spec, split, snakemake.params.seed, snakemake.output[0])
