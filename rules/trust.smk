# Trust: faithfulness and localisation of every CAM beside its robustness (camrobust.stages.trust).
# Faithfulness runs on the clean images, localisation on the clean images and under every noise
# of the datasets with ground truth; both read the CAM stores the scores read.


rule stage_masks:
    input:
        "results/data/{dataset}/eval.zarr",
    output:
        directory("results/masks/{dataset}.zarr"),
    log:
        "logs/stage_masks/{dataset}.log",
    benchmark:
        "results/benchmarks/stage_masks/{dataset}.tsv"
    wildcard_constraints:
        dataset=one_of(mask_datasets()),
    conda:
        "../envs/torch.yaml"
    params:
        spec=mask_spec,
    script:
        "../workflow_scripts/stage_masks.py"


rule score_faithfulness:
    input:
        unpack(model_files),
        images="results/data/{dataset}/eval.zarr",
        predictions="results/predictions/{dataset}/{model}/clean.zarr",
        cams="results/cams/{dataset}/{model}/clean/{cam}.zarr",
        segments="results/segments/{dataset}.zarr",
    output:
        "results/faithfulness/{dataset}/{model}/{cam}.parquet",
    log:
        "logs/score_faithfulness/{dataset}/{model}/{cam}.log",
    benchmark:
        "results/benchmarks/score_faithfulness/{dataset}/{model}/{cam}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        settings=faithfulness_settings(),
        batch_size=BATCH_SIZE,
        seed=SEED,
        device=DEVICE,
    script:
        "../workflow_scripts/score_faithfulness.py"


rule score_localisation:
    input:
        images="results/data/{dataset}/eval.zarr",
        masks="results/masks/{dataset}.zarr",
        cams=lambda wc: list(localisation_cams(wc).values()),
    output:
        "results/localisation/{dataset}/{model}/{cam}.parquet",
    log:
        "logs/score_localisation/{dataset}/{model}/{cam}.log",
    benchmark:
        "results/benchmarks/score_localisation/{dataset}/{model}/{cam}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        conditions=lambda wc: list(localisation_cams(wc)),
        tolerance=config["localisation"]["tolerance"],
    script:
        "../workflow_scripts/score_localisation.py"


rule summarise_trust:
    input:
        unpack(randomisation_summary),
        scores="results/summary/scores.parquet",
        faithfulness=faithfulness_tables(),
        localisation=localisation_tables(),
    output:
        summary=report(
            "results/summary/trust.csv",
            caption="../report/captions/trust_table.rst",
            category="Trust",
        ),
        noise=report(
            "results/summary/trust_localisation.csv",
            caption="../report/captions/trust_localisation.rst",
            category="Trust",
        ),
    log:
        "logs/summarise_trust/summarise_trust.log",
    benchmark:
        "results/benchmarks/summarise_trust/summarise_trust.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/summarise_trust.py"


rule test_trust:
    input:
        faithfulness=faithfulness_tables(),
        localisation=localisation_tables(),
    output:
        tests=report(
            "results/statistics/trust.csv",
            caption="../report/captions/trust_tests.rst",
            category="Statistical tests",
        ),
        pairs=report(
            "results/statistics/trust_pairwise.csv",
            caption="../report/captions/trust_pairwise.rst",
            category="Statistical tests",
        ),
    log:
        "logs/test_trust/test_trust.log",
    benchmark:
        "results/benchmarks/test_trust/test_trust.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        alpha=ALPHA,
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/test_trust.py"
