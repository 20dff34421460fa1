"""Worst-case C and uniform-noise C against the L-inf budget, one colour per CAM."""

from camrobust.logs import job_log
from camrobust.stages import report, worst_case

with job_log(snakemake.log[0], snakemake.threads):
    worst_case.plot_worst_case(
        table=snakemake.input[0], out=snakemake.output.figure, formats=report.formats_of(snakemake.output.formats)
    )
