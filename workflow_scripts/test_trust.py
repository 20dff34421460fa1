"""Friedman and Nemenyi tests across the CAMs per faithfulness and localisation score."""

from camrobust.logs import job_log
from camrobust.stages import trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.test_trust(
        faithfulness=list(snakemake.input.faithfulness),
        localisation=list(snakemake.input.localisation),
        alpha=snakemake.params.alpha,
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        min_n=snakemake.params.min_n,
        seed=snakemake.params.seed,
        out=snakemake.output.tests,
        pairs_out=snakemake.output.pairs,
    )
