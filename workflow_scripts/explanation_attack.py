"""Explanation attack of one (dataset, model, cam) at every severity: its worst-case images and maps."""

from camrobust.logs import job_log
from camrobust.stages import worst_case

with job_log(snakemake.log[0], snakemake.threads):
    worst_case.attack_cam(
        clean_store=snakemake.input.images,
        segments_store=snakemake.input.segments,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        method=snakemake.wildcards.cam,
        severities=snakemake.params.severities,
        params=snakemake.params.noise_params,
        settings=snakemake.params.settings,
        rbo_p=snakemake.params.rbo_p,
        target_mode=snakemake.params.target,
        seed=snakemake.params.seed,
        namespace=snakemake.wildcards.dataset,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
        out=snakemake.output[0],
    )
