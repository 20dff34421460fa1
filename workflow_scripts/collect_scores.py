"""All score tables in one Parquet file."""

from camrobust.logs import job_log
from camrobust.stages import summarise

with job_log(snakemake.log[0], snakemake.threads):
    summarise.collect_scores(paths=list(snakemake.input), out=snakemake.output[0])
