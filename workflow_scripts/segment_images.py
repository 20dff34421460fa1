"""Segment the clean images of one dataset."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    setting = snakemake.params.setting
    pipeline.segment_images(
        clean_store=snakemake.input[0],
        method=setting.get("method", "quickshift"),
        params=setting.get("params"),
        out=snakemake.output[0],
    )
