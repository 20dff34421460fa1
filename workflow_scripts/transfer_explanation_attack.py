"""A CAM without a cheap input gradient on the images another CAM's explanation attack found."""

from camrobust.logs import job_log
from camrobust.stages import worst_case

with job_log(snakemake.log[0], snakemake.threads):
    worst_case.transfer_attack(
        source_store=snakemake.input.source,
        clean_store=snakemake.input.images,
        segments_store=snakemake.input.segments,
        card_path=snakemake.input.card,
        weights_path=snakemake.input.weights,
        method=snakemake.wildcards.cam,
        rbo_p=snakemake.params.rbo_p,
        batch_size=snakemake.params.batch_size,
        channel_batch_size=snakemake.params.channel_batch_size,
        device=snakemake.params.device,
        out=snakemake.output[0],
        plugin=snakemake.params.plugin,
    )
