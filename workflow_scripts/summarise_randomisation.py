"""Randomisation summary: mean similarity per (dataset, model, cam, stage) with bootstrap CIs."""

from camrobust.logs import job_log
from camrobust.stages import sanity

with job_log(snakemake.log[0], snakemake.threads):
    sanity.summarise_randomisation(
        tables=list(snakemake.input),
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        seed=snakemake.params.seed,
        min_n=snakemake.params.min_n,
        out=snakemake.output[0],
    )
