"""The sensitivity page: does the CAM ranking change with the metric's settings?"""

from camrobust.logs import job_log
from camrobust.stages import pages

with job_log(snakemake.log[0], snakemake.threads):
    pages.write_sensitivity_page(
        table=snakemake.input.table, figure=snakemake.input.figure, main=snakemake.params.main, out=snakemake.output[0]
    )
