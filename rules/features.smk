rule predict_images:
    input:
        unpack(model_files),
        images=condition_images,
        labels="results/data/{dataset}/eval.zarr",
    output:
        directory("results/predictions/{dataset}/{model}/{condition}.zarr"),
    log:
        "logs/predict_images/{dataset}/{model}/{condition}.log",
    benchmark:
        "results/benchmarks/predict_images/{dataset}/{model}/{condition}.tsv"
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
        "../workflow_scripts/predict_images.py"


# Activations and gradients: kept for adding gradient CAMs without a model pass, or temp()
# (deleted once this run's gradient CAMs are written; adding one later reruns this job).
FEATURES = directory("results/features/{dataset}/{model}/{condition}.zarr")


rule extract_features:
    input:
        unpack(model_files),
        images=condition_images,
        predictions="results/predictions/{dataset}/{model}/{condition}.zarr",
    output:
        FEATURES if config["features"]["keep"] else temp(FEATURES),
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
        batch_size=BATCH_SIZE,
        precision=config["features"]["precision"],
        device=DEVICE,
    script:
        "../workflow_scripts/extract_features.py"
