"""Segment the clean images of one dataset."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    setting = snakemake.params.setting
    pipeline.segment_images(
        snakemake.input[0],
        setting.get("method", "quickshift"),
        setting.get("params"),
        snakemake.output[0],
    )
