rule stage_evaluation_images:
    output:
        directory("results/data/{dataset}/eval.zarr"),
    log:
        "logs/stage_evaluation_images/{dataset}.log",
    benchmark:
        "results/benchmarks/stage_evaluation_images/{dataset}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        split="eval",
        spec=dataset_spec,
        seed=SEED,
    script:
        "../workflow_scripts/stage_images.py"


rule stage_training_images:
    output:
        directory("results/data/{dataset}/train.zarr"),
    log:
        "logs/stage_training_images/{dataset}.log",
    benchmark:
        "results/benchmarks/stage_training_images/{dataset}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        split="train",
        spec=dataset_spec,
        seed=SEED,
    script:
        "../workflow_scripts/stage_images.py"
