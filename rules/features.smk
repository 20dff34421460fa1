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
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        target=config["cam_options"]["target"],
        batch_size=BATCH_SIZE,
        device=DEVICE,
    script:
        "../workflow_scripts/predict_images.py"


# Activations and gradients: kept for adding `uses: features` CAM plugins without a model pass,
# or temp() (deleted once this run's plugin CAMs are written; adding one later reruns this job).
# The raw maps of every built-in gradient-family CAM and of the baseline maps on the layer grid are
# written here too, whichever the config names: adding one of them to `cams` later plans only its
# scores (the edge map, at the image's resolution, has its own job: rules/cams.smk).
FEATURES = directory("results/features/{dataset}/{model}/{condition}.zarr")


rule extract_features:
    input:
        unpack(model_files),
        images=condition_images,
        ids="results/data/{dataset}/eval.zarr",
        predictions="results/predictions/{dataset}/{model}/{condition}.zarr",
    output:
        **{
            cam: directory(
                f"results/cams/{{dataset}}/{{model}}/{{condition}}/{cam}.zarr"
            )
            for cam in [*GRADIENT_CAMS, *GRID_BASELINES]
        },
        features=FEATURES if config["features"]["keep"] else temp(FEATURES),
    log:
        "logs/extract_features/{dataset}/{model}/{condition}.log",
    benchmark:
        "results/benchmarks/extract_features/{dataset}/{model}/{condition}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        batch_size=BATCH_SIZE,
        precision=config["features"]["precision"],
        gradient_cams=GRADIENT_CAMS,
        baseline_cams=GRID_BASELINES,
        seed=SEED,
        device=DEVICE,
    script:
        "../workflow_scripts/extract_features.py"
