rule perturb_images:
    input:
        "results/data/{dataset}/eval.zarr",
    output:
        directory("results/noisy/{dataset}/{noise}.zarr"),
    log:
        "logs/perturb_images/{dataset}/{noise}.log",
    benchmark:
        "results/benchmarks/perturb_images/{dataset}/{noise}.tsv"
    wildcard_constraints:
        noise=one_of(MODEL_FREE_NOISES),
    conda:
        "../envs/torch.yaml"
    params:
        severities=severities,
        noise_params=custom_noise_params,
        seed=SEED,
        plugin=noise_plugin,
    script:
        "../workflow_scripts/perturb_images.py"


rule attack_images:
    input:
        unpack(model_files),
        images="results/data/{dataset}/eval.zarr",
    output:
        directory("results/attacks/{dataset}/{model}/{noise}.zarr"),
    log:
        "logs/attack_images/{dataset}/{model}/{noise}.log",
    benchmark:
        "results/benchmarks/attack_images/{dataset}/{model}/{noise}.tsv"
    wildcard_constraints:
        noise=one_of(ATTACKS),
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        severities=severities,
        noise_params=custom_noise_params,
        seed=SEED,
        batch_size=BATCH_SIZE,
        device=DEVICE,
    script:
        "../workflow_scripts/attack_images.py"
