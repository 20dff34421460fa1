# The sensitivity of the conclusions to the metric's own settings (metric.sensitivity, opt-in):
# the same cached CAM pairs scored again with RBO only, under other RBO persistences and another
# segmentation (its own segments store), and the summary of whether the CAM ranking changes.
# Nothing here is an input of the main results.


rule segment_sensitivity:
    input:
        "results/data/{dataset}/eval.zarr",
    output:
        directory("results/sensitivity/segments/{dataset}/{method}.zarr"),
    log:
        "logs/segment_sensitivity/{dataset}/{method}.log",
    benchmark:
        "results/benchmarks/segment_sensitivity/{dataset}/{method}.tsv"
    wildcard_constraints:
        method="quickshift|slic",
    conda:
        "../envs/torch.yaml"
    params:
        setting=lambda wc: canonical({"method": wc.method}),
    script:
        "../workflow_scripts/segment_images.py"


def sensitivity_segments(wildcards):
    """Segmentation method -> segments store of the settings of a dataset: the main store for
    its own method, a sensitivity store for another."""
    own = config["datasets"][wildcards.dataset]["segmentation"].get("method", "quickshift")
    methods = sorted({s["segmentation"] for s in dataset_sensitivity(wildcards.dataset)})
    return {
        method: (
            f"results/segments/{wildcards.dataset}.zarr"
            if method == own
            else f"results/sensitivity/segments/{wildcards.dataset}/{method}.zarr"
        )
        for method in methods
    }


rule score_sensitivity:
    input:
        unpack(sensitivity_segments),
        images="results/data/{dataset}/eval.zarr",
        clean_predictions="results/predictions/{dataset}/{model}/clean.zarr",
        noisy_predictions="results/predictions/{dataset}/{model}/{noise}.zarr",
        clean_cams="results/cams/{dataset}/{model}/clean/{cam}.zarr",
        noisy_cams="results/cams/{dataset}/{model}/{noise}/{cam}.zarr",
    output:
        "results/sensitivity/scores/{dataset}/{model}/{noise}/{cam}.parquet",
    log:
        "logs/score_sensitivity/{dataset}/{model}/{noise}/{cam}.log",
    benchmark:
        "results/benchmarks/score_sensitivity/{dataset}/{model}/{noise}/{cam}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        settings=lambda wc: dataset_sensitivity(wc.dataset),
    script:
        "../workflow_scripts/score_sensitivity.py"


rule summarise_sensitivity:
    input:
        scores="results/summary/scores.parquet",
        tables=sensitivity_tables(),
    output:
        "results/summary/sensitivity.csv",
    log:
        "logs/summarise_sensitivity/summarise_sensitivity.log",
    benchmark:
        "results/benchmarks/summarise_sensitivity/summarise_sensitivity.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/summarise_sensitivity.py"
