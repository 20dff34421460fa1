"""The edge map of one condition's images: Sobel edges, no model pass."""

from camrobust.logs import job_log
from camrobust.stages import cams

with job_log(snakemake.log[0], snakemake.threads):
    cams.edge_map_maps(images_store=snakemake.input.images, out=snakemake.output[0])
