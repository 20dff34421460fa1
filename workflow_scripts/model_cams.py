"""Raw CAMs of one method that needs the model (ScoreCAM, AblationCAM, a `uses: model` plugin)."""

from camrobust.logs import job_log
from camrobust.stages import cams

with job_log(snakemake.log[0], snakemake.threads):
    cams.model_cam_maps(
        images_store=snakemake.input.images,
        predictions_store=snakemake.input.predictions,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        method=snakemake.wildcards.cam,
        batch_size=snakemake.params.batch_size,
        channel_batch_size=snakemake.params.channel_batch_size,
        device=snakemake.params.device,
        out=snakemake.output[0],
        plugin=snakemake.params.plugin,
    )
