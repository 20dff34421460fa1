"""Raw CAMs of one gradient-family method (built in or a `uses: features` plugin) from cached features."""

from camrobust.logs import job_log
from camrobust.stages import cams

with job_log(snakemake.log[0], snakemake.threads):
    cams.gradient_cam_maps(
        features_store=snakemake.input[0],
        method=snakemake.wildcards.cam,
        image_size=tuple(snakemake.params.image_size),
        out=snakemake.output[0],
        plugin=snakemake.params.plugin,
    )
