"""The report's landing page: the headline per (dataset, model), written from the results."""

from camrobust.logs import job_log
from camrobust.stages import pages

with job_log(snakemake.log[0], snakemake.threads):
    pages.write_landing(
        summary=snakemake.input.summary,
        verdicts=snakemake.input.verdicts,
        sensitivity=snakemake.input.get("sensitivity"),
        settings=snakemake.params.settings,
        links=snakemake.params.links,
        out=snakemake.output[0],
    )
