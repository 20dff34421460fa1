"""The trust figure: every CAM's rank and value per score, baselines marked."""

from camrobust.logs import job_log
from camrobust.stages import report, trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.plot_trust(
        summary=snakemake.input[0],
        out=snakemake.output.figure,
        formats=report.formats_of(snakemake.output.formats),
    )
