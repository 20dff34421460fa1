"""All score tables in one Parquet file."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.collect_scores(paths=list(snakemake.input), out=snakemake.output[0])
