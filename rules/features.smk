rule extract_features:
    input:
        unpack(model_files),
        images=condition_images,
        labels="results/data/{dataset}/eval.zarr",
    output:
        directory("results/features/{dataset}/{model}/{condition}.zarr"),
    params:
        target=config["cam_options"]["target"],
        batch_size=BATCH_SIZE,
        device=DEVICE,
    threads: 2
    resources:
        gpu=GPU,
    log:
        "logs/extract_features/{dataset}/{model}/{condition}.log",
    benchmark:
        "results/benchmarks/extract_features/{dataset}/{model}/{condition}.tsv"
    script:
        "../workflow_scripts/extract_features.py"
