"""CAM rankings by the RM built from RBO and from each complementary similarity, compared."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    report.plot_ranking_agreement(
        scores=snakemake.input[0],
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        seed=snakemake.params.seed,
        min_n=snakemake.params.min_n,
        out=snakemake.output.figure,
        table_out=snakemake.output.table,
        formats=report.formats_of(snakemake.output.formats),
    )
