"""Score one (dataset, model, noise, cam): one row per image and severity."""

from camrobust.logs import job_log
from camrobust.stages import score

with job_log(snakemake.log[0], snakemake.threads):
    score.score_cams(
        clean_store=snakemake.input.images,
        segments_store=snakemake.input.segments,
        clean_predictions=snakemake.input.clean_predictions,
        noisy_predictions=snakemake.input.noisy_predictions,
        clean_cams=snakemake.input.clean_cams,
        noisy_cams=snakemake.input.noisy_cams,
        keys=dict(snakemake.wildcards.items()),
        rbo_p=snakemake.params.rbo_p,
        topk=snakemake.params.topk,
        out=snakemake.output[0],
    )
