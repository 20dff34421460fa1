"""The drill-down pages of one (dataset, model, noise), one per CAM: their most telling pairs."""

from camrobust.logs import job_log
from camrobust.stages import pages

with job_log(snakemake.log[0], snakemake.threads):
    cams = [path.rsplit("/", 1)[-1].removesuffix(".zarr") for path in snakemake.input.clean_cams]
    pages.write_drilldown(
        scores=dict(zip(cams, snakemake.input.scores)),
        summary=snakemake.input.summary,
        clean_store=snakemake.input.images,
        noisy_store=snakemake.input.noisy,
        segments_store=snakemake.input.segments,
        clean_cams=dict(zip(cams, snakemake.input.clean_cams)),
        noisy_cams=dict(zip(cams, snakemake.input.noisy_cams)),
        n_pairs=snakemake.params.n_pairs,
        out=snakemake.output[0],
    )
