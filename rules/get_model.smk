rule prepare_model:
    input:
        train=training_images,
        eval="results/data/{dataset}/eval.zarr",
    output:
        weights="results/models/{dataset}/{model}/weights.pt",
        card="results/models/{dataset}/{model}/card.json",
    params:
        spec=model_spec,
        seed=SEED,
    threads: 2
    resources:
        gpu=0,
    log:
        "logs/prepare_model/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/prepare_model/{dataset}/{model}.tsv"
    script:
        "../workflow_scripts/prepare_model.py"
