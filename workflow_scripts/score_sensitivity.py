"""RBO of one (dataset, model, noise)'s cached CAM pairs, every CAM, under the metric.sensitivity settings."""

from camrobust.logs import job_log
from camrobust.stages import sensitivity

with job_log(snakemake.log[0], snakemake.threads):
    settings = snakemake.params.settings
    methods = sorted({setting["segmentation"] for setting in settings})
    cams = [path.rsplit("/", 1)[-1].removesuffix(".zarr") for path in snakemake.input.clean_cams]
    sensitivity.score_sensitivity(
        clean_store=snakemake.input.images,
        segment_stores={method: snakemake.input[method] for method in methods},
        clean_predictions=snakemake.input.clean_predictions,
        noisy_predictions=snakemake.input.noisy_predictions,
        clean_cams=dict(zip(cams, snakemake.input.clean_cams)),
        noisy_cams=dict(zip(cams, snakemake.input.noisy_cams)),
        keys=dict(snakemake.wildcards.items()),
        settings=settings,
        out=snakemake.output[0],
    )
