"""The pooled robustness summary with its CIs as Markdown and LaTeX, for papers."""

from camrobust.logs import job_log
from camrobust.stages import summarise

with job_log(snakemake.log[0], snakemake.threads):
    summarise.export_robustness_table(
        summary=snakemake.input[0],
        ci=snakemake.params.ci,
        markdown=snakemake.output.markdown,
        latex=snakemake.output.latex,
    )
