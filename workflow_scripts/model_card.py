"""The report's page of one model card, its warnings (e.g. accuracy below chance) first."""

from camrobust import pipeline
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    w = snakemake.wildcards
    pipeline.write_model_card_page(snakemake.input[0], f"{w.dataset} / {w.model}: model card", snakemake.output[0])
