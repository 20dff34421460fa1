"""A figure of the robustness summary: ``params.figure`` names the camrobust.plots function,
the rule is ``plot_<figure>`` and the caption ``<figure>.rst``."""

import pandas as pd

from camrobust import plots
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    summary = pd.read_csv(snakemake.input[0], keep_default_na=True, dtype={"severity": str, "reason": str})
    summary["reason"] = summary["reason"].fillna("")
    draw = getattr(plots, snakemake.params.figure)
    table = draw(summary, path=snakemake.output[0], **dict(snakemake.wildcards))
    if "table" in snakemake.output.keys():
        table.to_csv(snakemake.output.table, index=False)
