"""Ground-truth object masks of one dataset's staged images."""

from camrobust.logs import job_log
from camrobust.stages import trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.stage_masks(spec=snakemake.params.spec, images_store=snakemake.input[0], out=snakemake.output[0])
