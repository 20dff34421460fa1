# Worst-case consistency: the explanation_attack noise, one store per (dataset, model, cam) with
# all its severities. Gradient-family CAMs are attacked through their own gradient; the others
# are evaluated on the images found for explanation_attack.transfer_source (a transfer attack).
# The score stage reads each store as its noisy predictions and CAMs (rules/common.smk).
rule explanation_attack:
    input:
        unpack(model_files),
        images="results/data/{dataset}/eval.zarr",
        segments="results/segments/{dataset}.zarr",
    output:
        directory("results/worst_case/{dataset}/{model}/{cam}.zarr"),
    log:
        "logs/explanation_attack/{dataset}/{model}/{cam}.log",
    benchmark:
        "results/benchmarks/explanation_attack/{dataset}/{model}/{cam}.tsv"
    wildcard_constraints:
        cam=one_of(GRADIENT_CAMS),
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        severities=attack_severities,
        noise_params=lambda wc: canonical(severity_table(config, WORST_CASE)),
        settings=canonical(ATTACK),
        rbo_p=config["metric"]["rbo_p"],
        target=config["cam_options"]["target"],
        seed=SEED,
        batch_size=BATCH_SIZE,
        device=DEVICE,
    script:
        "../workflow_scripts/explanation_attack.py"


rule transfer_explanation_attack:
    input:
        unpack(model_files),
        source=lambda wc: f"results/worst_case/{wc.dataset}/{wc.model}/{attack_source(wc.cam)}.zarr",
        images="results/data/{dataset}/eval.zarr",
        segments="results/segments/{dataset}.zarr",
    output:
        directory("results/worst_case/{dataset}/{model}/{cam}.zarr"),
    log:
        "logs/transfer_explanation_attack/{dataset}/{model}/{cam}.log",
    benchmark:
        "results/benchmarks/transfer_explanation_attack/{dataset}/{model}/{cam}.tsv"
    wildcard_constraints:
        cam=one_of([c for c in MODEL_CAMS_IN_CONFIG if c not in GRADIENT_CAMS]),
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        rbo_p=config["metric"]["rbo_p"],
        batch_size=BATCH_SIZE,
        channel_batch_size=config["cam_options"]["channel_batch_size"],
        device=DEVICE,
        plugin=cam_plugin,
    script:
        "../workflow_scripts/transfer_explanation_attack.py"


rule summarise_worst_case:
    input:
        summary="results/summary/robustness.csv",
        stores=list(worst_case_stores().values()),
    output:
        report(
            "results/summary/worst_case.csv",
            caption="../report/captions/worst_case_table.rst",
            category="Sanity checks",
        ),
    log:
        "logs/summarise_worst_case/summarise_worst_case.log",
    benchmark:
        "results/benchmarks/summarise_worst_case/summarise_worst_case.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        store_keys=list(worst_case_stores()),
        budgets=lambda wc: canonical(attack_budgets()),
    script:
        "../workflow_scripts/summarise_worst_case.py"


rule plot_worst_case:
    input:
        "results/summary/worst_case.csv",
    output:
        figure=report(
            "results/report/worst_case.png",
            caption="../report/captions/worst_case.rst",
            category="Sanity checks",
        ),
        formats=also("results/report/worst_case.png"),
    log:
        "logs/plot_worst_case/plot_worst_case.log",
    benchmark:
        "results/benchmarks/plot_worst_case/plot_worst_case.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../workflow_scripts/plot_worst_case.py"
