"""A figure of the robustness summary: ``params.figure`` names the camrobust.plots function,
the rule is ``plot_<figure>`` and the caption ``<figure>.rst``."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    report.plot_summary(
        figure=snakemake.params.figure,
        summary=snakemake.input[0],
        out=snakemake.output.figure,
        formats=report.formats_of(snakemake.output.formats),
        table_out=snakemake.output.table if "table" in snakemake.output.keys() else None,
        **dict(snakemake.wildcards),
    )
