"""Robustness summary table: C, R, RM with bootstrap CIs per severity and pooled."""

import pandas as pd

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.summarise_robustness(
        pd.read_parquet(snakemake.input[0]),
        snakemake.params.attacks,
        snakemake.params.n_bootstrap,
        snakemake.params.ci,
        snakemake.params.seed,
        snakemake.output[0],
    )
