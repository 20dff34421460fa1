"""Stage data: one split of a dataset into an images store."""

from camrobust.logs import job_log
from camrobust.stages import stage_data

with job_log(snakemake.log[0], snakemake.threads):
    stage_data.stage_images(
        spec=snakemake.params.spec, split=snakemake.params.split, seed=snakemake.params.seed, out=snakemake.output[0]
    )
