def segmentation_setting(wildcards):
    return config["datasets"][wildcards.dataset].get("segmentation") or config.get(
        "segmentation", {}
    )


rule segment_images:
    input:
        "results/data/{dataset}/eval.zarr",
    output:
        directory("results/segments/{dataset}.zarr"),
    params:
        setting=segmentation_setting,
    log:
        "logs/segment_images/{dataset}.log",
    benchmark:
        "results/benchmarks/segment_images/{dataset}.tsv"
    script:
        "../workflow_scripts/segment_images.py"
