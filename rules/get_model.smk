rule prepare_model:
    input:
        train=training_images,
        eval="results/data/{dataset}/eval.zarr",
    output:
        weights="results/models/{dataset}/{model}/weights.pt",
        card="results/models/{dataset}/{model}/card.json",
    log:
        "logs/prepare_model/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/prepare_model/{dataset}/{model}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=0,
    params:
        spec=model_spec,
        seed=SEED,
    script:
        "../workflow_scripts/prepare_model.py"
