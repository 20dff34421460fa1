"""One family of statistical tests on all scores: ``params.test`` names the camrobust.analysis.stats function."""

from camrobust.logs import job_log
from camrobust.stages import summarise

with job_log(snakemake.log[0], snakemake.threads):
    summarise.statistical_tests(
        test=snakemake.params.test,
        scores=snakemake.input[0],
        alpha=snakemake.params.alpha,
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        min_n=snakemake.params.min_n,
        seed=snakemake.params.seed,
        out=list(snakemake.output),
    )
