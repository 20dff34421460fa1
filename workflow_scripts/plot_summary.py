"""Figures drawn from the robustness summary; the rule name says which."""

import pandas as pd

from camrobust import plots
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    summary = pd.read_csv(snakemake.input[0], keep_default_na=True, dtype={"severity": str, "reason": str})
    summary["reason"] = summary["reason"].fillna("")
    rule, wildcards = snakemake.rule, snakemake.wildcards
    if rule == "plot_robustness_heatmap":
        plots.rm_heatmap(summary, wildcards.dataset, wildcards.model, snakemake.output[0])
    elif rule == "plot_severity_curves":
        plots.severity_curves(summary, wildcards.dataset, wildcards.model, snakemake.output[0])
    elif rule == "plot_ranking_agreement":
        plots.ranking_agreement(summary, snakemake.output.figure).to_csv(snakemake.output.table, index=False)
    elif rule == "plot_change_rates":
        plots.attack_success(summary, snakemake.output[0])
    else:
        raise ValueError(f"no figure for rule {rule!r}")
