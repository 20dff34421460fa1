"""Clean-vs-noisy CAM overlays for one (dataset, model, noise)."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    cams = [path.rsplit("/", 1)[-1].removesuffix(".zarr") for path in snakemake.input.clean_cams]
    pipeline.plot_cam_overlays(
        snakemake.input.images,
        snakemake.input.noisy,
        snakemake.input.segments,
        snakemake.input.clean_features,
        snakemake.input.noisy_features,
        dict(zip(cams, snakemake.input.clean_cams)),
        dict(zip(cams, snakemake.input.noisy_cams)),
        snakemake.params.n_images,
        "{dataset} / {model}: {noise}".format(**snakemake.wildcards),
        snakemake.output[0],
    )
