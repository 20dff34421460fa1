"""Per (dataset, model, noise): the most robust CAM method, where the data name one."""

from camrobust.logs import job_log
from camrobust.stages import summarise

with job_log(snakemake.log[0], snakemake.threads):
    summarise.write_verdicts(
        scores=snakemake.input[0],
        practical_difference=snakemake.params.practical_difference,
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        seed=snakemake.params.seed,
        min_n=snakemake.params.min_n,
        out=snakemake.output[0],
    )
