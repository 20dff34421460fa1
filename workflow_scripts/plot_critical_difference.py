"""Critical-difference diagrams of the CAM methods for one (dataset, model, noise), both sets."""

from camrobust.logs import job_log
from camrobust.stages import report

with job_log(snakemake.log[0], snakemake.threads):
    report.plot_critical_difference(
        scores=snakemake.input[0],
        dataset=snakemake.wildcards.dataset,
        model=snakemake.wildcards.model,
        noise=snakemake.wildcards.noise,
        alpha=snakemake.params.alpha,
        out={set_name: snakemake.output[set_name] for set_name in ("preserving", "changing")},
        formats=report.formats_of(snakemake.output.formats),
    )
