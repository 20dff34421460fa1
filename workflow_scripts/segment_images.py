"""Segment the clean images of one dataset."""

from camrobust.logs import job_log
from camrobust.stages import segment

with job_log(snakemake.log[0], snakemake.threads):
    setting = snakemake.params.setting
    segment.segment_images(
        clean_store=snakemake.input[0],
        method=setting.get("method", "quickshift"),
        params=setting.get("params"),
        out=snakemake.output[0],
    )
