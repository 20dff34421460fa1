"""Noisy images: all severities of one model-free noise type (built in or a plugin)."""

from camrobust.logs import job_log
from camrobust.stages import noisy_images

with job_log(snakemake.log[0], snakemake.threads):
    noisy_images.perturb_images(
        clean_store=snakemake.input[0],
        noise_name=snakemake.wildcards.noise,
        severities=snakemake.params.severities,
        params=snakemake.params.noise_params,
        seed=snakemake.params.seed,
        namespace=snakemake.wildcards.dataset,
        out=snakemake.output[0],
        plugin=snakemake.params.plugin,
    )
