"""Critical-difference diagram of the CAM methods for one (dataset, model, noise, set)."""

import pandas as pd

from camrobust import plots, stats
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    w = snakemake.wildcards
    ranks, pvalues = stats.nemenyi_ranks(
        pd.read_parquet(snakemake.input[0]), dataset=w.dataset, model=w.model, noise=w.noise, set_name=w.set
    )
    measure = "consistency (r)" if w.set == "preserving" else "responsiveness (1 - r)"
    plots.cd_diagram(ranks, pvalues, snakemake.output[0], f"{w.dataset} / {w.model}: {w.noise}, {measure}")
