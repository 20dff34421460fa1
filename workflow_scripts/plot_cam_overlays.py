"""Clean-vs-noisy CAM overlays for one (dataset, model, noise), of the images the drill-down choice picks."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads) as log:
    cams = [path.rsplit("/", 1)[-1].removesuffix(".zarr") for path in snakemake.input.clean_cams]
    chosen = report.plot_cam_overlays(
        clean_store=snakemake.input.images,
        noisy_store=snakemake.input.noisy,
        segments_store=snakemake.input.segments,
        score_tables=dict(zip(cams, snakemake.input.scores)),
        clean_cams=dict(zip(cams, snakemake.input.clean_cams)),
        noisy_cams=dict(zip(cams, snakemake.input.noisy_cams)),
        n_images=snakemake.params.n_images,
        title="{dataset} / {model}: {noise}".format(**snakemake.wildcards),
        out=snakemake.output.figure,
        formats=report.formats_of(snakemake.output.formats),
    )
    log.info("images shown: %s", ", ".join(chosen))
