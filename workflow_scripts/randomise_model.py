"""Model randomisation of one (dataset, model, cam): similarity to the trained model's CAM per image and stage."""

from camrobust.logs import job_log
from camrobust.stages import sanity

with job_log(snakemake.log[0], snakemake.threads):
    sanity.randomise_model(
        clean_store=snakemake.input.images,
        segments_store=snakemake.input.segments,
        predictions_store=snakemake.input.predictions,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        method=snakemake.wildcards.cam,
        keys=dict(snakemake.wildcards.items()),
        n_images=snakemake.params.n_images,
        stages=snakemake.params.stages,
        rbo_p=snakemake.params.rbo_p,
        topk=snakemake.params.topk,
        seed=snakemake.params.seed,
        batch_size=snakemake.params.batch_size,
        channel_batch_size=snakemake.params.channel_batch_size,
        device=snakemake.params.device,
        out=snakemake.output[0],
        plugin=snakemake.params.plugin,
    )
