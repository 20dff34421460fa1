"""Target-layer activations and gradients of one condition (clean or a noise type), and the raw
maps of every built-in gradient-family CAM and baseline map."""

from camrobust.logs import job_log
from camrobust.stages import features

with job_log(snakemake.log[0], snakemake.threads):
    features.extract_features(
        images_store=snakemake.input.images,
        predictions_store=snakemake.input.predictions,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        batch_size=snakemake.params.batch_size,
        precision=snakemake.params.precision,
        device=snakemake.params.device,
        out=snakemake.output.features,
        cam_stores={cam: snakemake.output[cam] for cam in snakemake.params.gradient_cams},
        baseline_stores={cam: snakemake.output[cam] for cam in snakemake.params.baseline_cams},
        ids_store=snakemake.input.ids,
        condition=snakemake.wildcards.condition,
        seed=snakemake.params.seed,
    )
