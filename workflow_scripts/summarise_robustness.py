"""Robustness summary table: C, R, RM with bootstrap CIs per severity and pooled."""

from camrobust.logs import job_log
from camrobust.stages import summarise

with job_log(snakemake.log[0], snakemake.threads):
    summarise.summarise_robustness(
        scores=snakemake.input[0],
        attacks=snakemake.params.attacks,
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        seed=snakemake.params.seed,
        min_n=snakemake.params.min_n,
        out=snakemake.output[0],
    )
