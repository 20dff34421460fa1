"""Distribution of segmentation regions per image, per dataset."""

from camrobust import plots
from camrobust.logs import job_log
from camrobust.store import read_array

with job_log(snakemake.log[0], snakemake.threads) as log:
    counts = {name: read_array(path, "n_regions") for name, path in zip(snakemake.params.datasets, snakemake.input)}
    log.info("regions per image:\n%s", plots.region_counts(counts, snakemake.output[0]))
