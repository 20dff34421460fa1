"""CAMs of one gradient-family method from cached features."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    pipeline.gradient_cam_maps(
        snakemake.input[0],
        snakemake.wildcards.cam,
        tuple(snakemake.params.image_size),
        snakemake.output[0],
    )
