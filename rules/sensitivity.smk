# The sensitivity of the conclusions to the metric's own settings (metric.sensitivity, opt-in):
# the same cached CAM pairs scored again with RBO only, under other RBO persistences and another
# segmentation (its own segments store), and the summary of whether the CAM ranking changes.
# Nothing here is an input of the main results. One scoring job per (dataset, model, noise) for all
# CAMs: its start-up (torch, numba) costs more than its RBO.


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


rule score_sensitivity:
    input:
        unpack(sensitivity_segments),
        images="results/data/{dataset}/eval.zarr",
        clean_predictions="results/predictions/{dataset}/{model}/clean.zarr",
        noisy_predictions="results/predictions/{dataset}/{model}/{noise}.zarr",
        clean_cams=lambda wc: cam_stores(wc, "clean"),
        noisy_cams=lambda wc: cam_stores(wc, wc.noise),
    output:
        "results/sensitivity/scores/{dataset}/{model}/{noise}.parquet",
    log:
        "logs/score_sensitivity/{dataset}/{model}/{noise}.log",
    benchmark:
        "results/benchmarks/score_sensitivity/{dataset}/{model}/{noise}.tsv"
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
