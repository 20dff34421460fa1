"""Noisy images: all severities of one attack against one model."""

from camrobust.logs import job_log
from camrobust.stages import noisy_images

with job_log(snakemake.log[0], snakemake.threads):
    noisy_images.attack_images(
        clean_store=snakemake.input.images,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        noise_name=snakemake.wildcards.noise,
        severities=snakemake.params.severities,
        params=snakemake.params.noise_params,
        seed=snakemake.params.seed,
        namespace=snakemake.wildcards.dataset,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
        out=snakemake.output[0],
    )
