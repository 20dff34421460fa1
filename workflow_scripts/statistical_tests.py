"""One family of statistical tests on all scores: ``params.test`` names the camrobust.stats function."""

import pandas as pd

from camrobust import stats
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    tables = getattr(stats, snakemake.params.test)(snakemake.input[0])  # reads one group at a time
    if isinstance(tables, pd.DataFrame):
        tables = (tables,)
    for table, path in zip(tables, snakemake.output, strict=True):
        stats.mark_significant(table, snakemake.params.alpha).to_csv(path, index=False)
