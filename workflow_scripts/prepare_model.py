"""Get model: train, download or load it; write weights and the model card."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    card = pipeline.prepare_model(
        snakemake.params.spec,
        snakemake.input.train or None,
        snakemake.input.eval,
        snakemake.params.seed,
        snakemake.output.weights,
        snakemake.output.card,
    )
    log.info("accuracy %s", card.accuracy)
