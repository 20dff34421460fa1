rule score_cams:
    input:
        images="results/data/{dataset}/eval.zarr",
        segments="results/segments/{dataset}.zarr",
        clean_predictions="results/predictions/{dataset}/{model}/clean.zarr",
        noisy_predictions=lambda wc: noisy_store(wc, "predictions"),
        clean_cams="results/cams/{dataset}/{model}/clean/{cam}.zarr",
        noisy_cams=lambda wc: noisy_store(wc, "cams"),
    output:
        "results/scores/{dataset}/{model}/{noise}/{cam}.parquet",
    log:
        "logs/score_cams/{dataset}/{model}/{noise}/{cam}.log",
    benchmark:
        "results/benchmarks/score_cams/{dataset}/{model}/{noise}/{cam}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        rbo_p=config["metric"]["rbo_p"],
        topk=config["metric"]["topk"],
    script:
        "../workflow_scripts/score_cams.py"
