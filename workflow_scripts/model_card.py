"""The report's page of one model card, its warnings (e.g. accuracy below chance) first."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    report.write_model_card(
        card_path=snakemake.input[0],
        title="{dataset} / {model}: model card".format(**snakemake.wildcards),
        out=snakemake.output[0],
    )
