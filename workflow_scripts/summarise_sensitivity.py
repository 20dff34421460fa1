"""Per (dataset, model), noise and setting: does the CAM ranking change (Kendall tau with CI)?"""

from camrobust.logs import job_log
from camrobust.stages import sensitivity

with job_log(snakemake.log[0], snakemake.threads):
    sensitivity.summarise_sensitivity(
        scores=snakemake.input.scores,
        tables=list(snakemake.input.tables),
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        min_n=snakemake.params.min_n,
        seed=snakemake.params.seed,
        out=snakemake.output[0],
    )
