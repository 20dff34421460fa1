rule stage_evaluation_images:
    output:
        directory("results/data/{dataset}/eval.zarr"),
    params:
        spec=dataset_spec,
        seed=SEED,
    log:
        "logs/stage_evaluation_images/{dataset}.log",
    benchmark:
        "results/benchmarks/stage_evaluation_images/{dataset}.tsv"
    script:
        "../workflow_scripts/stage_images.py"


rule stage_training_images:
    output:
        directory("results/data/{dataset}/train.zarr"),
    params:
        spec=dataset_spec,
        seed=SEED,
    log:
        "logs/stage_training_images/{dataset}.log",
    benchmark:
        "results/benchmarks/stage_training_images/{dataset}.tsv"
    script:
        "../workflow_scripts/stage_images.py"
