"""Does the CAM ranking change with the metric's settings? The figure of the sensitivity table."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    report.plot_sensitivity(
        table=snakemake.input[0], out=snakemake.output.figure, formats=report.formats_of(snakemake.output.formats)
    )
