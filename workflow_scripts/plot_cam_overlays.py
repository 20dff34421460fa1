"""Clean-vs-noisy CAM overlays for one (dataset, model, noise)."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    cams = [path.rsplit("/", 1)[-1].removesuffix(".zarr") for path in snakemake.input.clean_cams]
    report.plot_cam_overlays(
        clean_store=snakemake.input.images,
        noisy_store=snakemake.input.noisy,
        segments_store=snakemake.input.segments,
        clean_predictions=snakemake.input.clean_predictions,
        noisy_predictions=snakemake.input.noisy_predictions,
        clean_cams=dict(zip(cams, snakemake.input.clean_cams)),
        noisy_cams=dict(zip(cams, snakemake.input.noisy_cams)),
        n_images=snakemake.params.n_images,
        title="{dataset} / {model}: {noise}".format(**snakemake.wildcards),
        out=snakemake.output[0],
    )
