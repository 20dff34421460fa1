"""camrobust: noise robustness of Class Activation Maps (see README.md)."""

if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/stage_data.smk"
include: "rules/get_model.smk"
include: "rules/noisy_images.smk"
include: "rules/features.smk"
include: "rules/cams.smk"
include: "rules/segment.smk"
include: "rules/score.smk"
include: "rules/summarise.smk"
include: "rules/trust.smk"
include: "rules/report.smk"
include: "rules/pages.smk"
include: "rules/sensitivity.smk"
include: "rules/randomisation.smk"
include: "rules/worst_case.smk"


# The report's first page: the landing page the workflow writes from the results (an absolute
# path, so that it is found with --directory too); before a run, the static description.
report: landing_page()


localrules:
    all,
    stage_evaluation_images,
    stage_training_images,


rule all:
    default_target: True
    input:
        final_outputs(),
