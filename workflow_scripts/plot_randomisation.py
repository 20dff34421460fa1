"""Similarity to the trained model's CAM against the stages randomised, one line per CAM."""

from camrobust.logs import job_log
from camrobust.stages import report, sanity

with job_log(snakemake.log[0], snakemake.threads):
    sanity.plot_randomisation(
        table=snakemake.input[0],
        baselines=snakemake.params.baselines,
        out=snakemake.output.figure,
        formats=report.formats_of(snakemake.output.formats),
    )
