rule segment_images:
    input:
        "results/data/{dataset}/eval.zarr",
    output:
        directory("results/segments/{dataset}.zarr"),
    log:
        "logs/segment_images/{dataset}.log",
    benchmark:
        "results/benchmarks/segment_images/{dataset}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        setting=segmentation_setting,
    script:
        "../workflow_scripts/segment_images.py"
