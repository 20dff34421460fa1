"""Get model: train, download or load it; write weights and the model card."""

from camrobust.logs import job_log
from camrobust.stages import get_model

with job_log(snakemake.log[0], snakemake.threads) as log:
    card = get_model.prepare_model(
        spec=snakemake.params.spec,
        train_store=snakemake.input.train or None,
        eval_store=snakemake.input.eval,
        seed=snakemake.params.seed,
        weights_out=snakemake.output.weights,
        card_out=snakemake.output.card,
    )
    log.info("accuracy %s", card.accuracy)
