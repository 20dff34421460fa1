"""Worst-case C beside C under uniform noise of the same L-inf budget, per CAM and severity."""

from camrobust.logs import job_log
from camrobust.stages import worst_case

with job_log(snakemake.log[0], snakemake.threads):
    worst_case.summarise_worst_case(
        robustness=snakemake.input.summary,
        stores=dict(zip(snakemake.params.store_keys, snakemake.input.stores, strict=True)),
        budgets={int(k): v for k, v in snakemake.params.budgets.items()},
        out=snakemake.output[0],
    )
