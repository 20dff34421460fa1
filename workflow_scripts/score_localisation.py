"""Localisation of one (dataset, model, cam) on the clean images and under every noise."""

from camrobust.logs import job_log
from camrobust.stages import trust

with job_log(snakemake.log[0], snakemake.threads):
    trust.score_localisation(
        images_store=snakemake.input.images,
        masks_store=snakemake.input.masks,
        cam_stores=dict(zip(snakemake.params.conditions, snakemake.input.cams, strict=True)),
        keys=dict(snakemake.wildcards.items()),
        tolerance=snakemake.params.tolerance,
        device="cpu",
        out=snakemake.output[0],
    )
