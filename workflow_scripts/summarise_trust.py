"""The trust summary (results/summary/trust.csv) and the localisation under noise."""

from camrobust.logs import job_log
from camrobust.stages import trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.summarise_trust(
        scores=snakemake.input.scores,
        faithfulness=list(snakemake.input.faithfulness),
        localisation=list(snakemake.input.localisation),
        randomisation=snakemake.input.get("randomisation"),
        n_boot=snakemake.params.n_bootstrap,
        ci=snakemake.params.ci,
        min_n=snakemake.params.min_n,
        seed=snakemake.params.seed,
        out=snakemake.output.summary,
        noise_out=snakemake.output.noise,
    )
