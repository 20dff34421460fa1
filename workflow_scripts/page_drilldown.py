"""The drill-down page of one (dataset, model, noise, cam): its most telling pairs."""

from camrobust.logs import job_log
from camrobust.stages import pages

with job_log(snakemake.log[0], snakemake.threads):
    pages.write_drilldown(
        scores=snakemake.input.scores,
        summary=snakemake.input.summary,
        clean_store=snakemake.input.images,
        noisy_store=snakemake.input.noisy,
        segments_store=snakemake.input.segments,
        clean_cams=snakemake.input.clean_cams,
        noisy_cams=snakemake.input.noisy_cams,
        n_pairs=snakemake.params.n_pairs,
        out=snakemake.output[0],
    )
