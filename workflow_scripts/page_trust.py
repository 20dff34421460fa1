"""The "Which CAM to trust" page."""

from camrobust.logs import job_log
from camrobust.stages import trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.write_trust_page(
        summary=snakemake.input.summary,
        tests=snakemake.input.tests,
        figure=snakemake.input.figure,
        alpha=snakemake.params.alpha,
        out=snakemake.output[0],
    )
