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
        spec=staging_spec("eval"),
        seed=SEED,
    script:
        "../workflow_scripts/stage_images.py"


# Training images feed only the in-pipeline training of `kind: trained` models: deleted once every
# model of the run is trained (a model added later stages them again).
rule stage_training_images:
    output:
        temp(directory("results/data/{dataset}/train.zarr")),
    log:
        "logs/stage_training_images/{dataset}.log",
    benchmark:
        "results/benchmarks/stage_training_images/{dataset}.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        split="train",
        spec=staging_spec("train"),
        seed=SEED,
    script:
        "../workflow_scripts/stage_images.py"
