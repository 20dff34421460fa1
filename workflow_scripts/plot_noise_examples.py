"""The first image of a dataset, clean and under every model-free noise of the run, as stored."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    report.plot_noise_examples(
        clean_store=snakemake.input.clean,
        noisy_stores=list(snakemake.input.noisy),
        dataset=snakemake.wildcards.dataset,
        out=snakemake.output.figure,
        formats=report.formats_of(snakemake.output.formats),
    )
