"""Distribution of segmentation regions per image, per dataset."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads) as log:
    counts = report.plot_region_counts(
        segment_stores=dict(zip(snakemake.params.datasets, snakemake.input)),
        out=snakemake.output.figure,
        formats=report.formats_of(snakemake.output.formats),
    )
    log.info("regions per image:\n%s", counts)
