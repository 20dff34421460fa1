rule extract_features:
    input:
        unpack(model_files),
        images=condition_images,
        labels="results/data/{dataset}/eval.zarr",
    output:
        directory("results/features/{dataset}/{model}/{condition}.zarr"),
    log:
        "logs/extract_features/{dataset}/{model}/{condition}.log",
    benchmark:
        "results/benchmarks/extract_features/{dataset}/{model}/{condition}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        gpu=GPU,
    params:
        target=config["cam_options"]["target"],
        batch_size=BATCH_SIZE,
        device=DEVICE,
    script:
        "../workflow_scripts/extract_features.py"
