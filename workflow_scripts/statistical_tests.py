"""Statistical tests on all scores; the rule name says which family."""

import pandas as pd

from camrobust import stats
from camrobust.logs import job_log

with job_log(snakemake.log[0], snakemake.threads):
    scores = pd.read_parquet(snakemake.input[0])
    alpha = snakemake.params.alpha
    if snakemake.rule == "test_cam_methods":
        omnibus, pairwise = stats.cam_method_tests(scores)
        stats.mark_significant(omnibus, alpha).to_csv(snakemake.output.omnibus, index=False)
        stats.mark_significant(pairwise, alpha).to_csv(snakemake.output.pairwise, index=False)
    else:
        family = {
            "test_datasets": stats.dataset_tests,
            "test_noise_types": stats.noise_type_tests,
            "test_severity_trend": stats.severity_trend,
        }[snakemake.rule]
        stats.mark_significant(family(scores), alpha).to_csv(snakemake.output[0], index=False)
