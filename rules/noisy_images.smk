rule perturb_images:
    input:
        "results/data/{dataset}/eval.zarr",
    output:
        directory("results/noisy/{dataset}/{noise}.zarr"),
    params:
        severities=severities,
        noise_params=custom_noise_params,
        seed=SEED,
    wildcard_constraints:
        noise=one_of(set(NOISES) - set(ATTACKS)),
    log:
        "logs/perturb_images/{dataset}/{noise}.log",
    benchmark:
        "results/benchmarks/perturb_images/{dataset}/{noise}.tsv"
    script:
        "../workflow_scripts/perturb_images.py"


rule attack_images:
    input:
        unpack(model_files),
        images="results/data/{dataset}/eval.zarr",
    output:
        directory("results/attacks/{dataset}/{model}/{noise}.zarr"),
    params:
        severities=severities,
        noise_params=custom_noise_params,
        seed=SEED,
        batch_size=BATCH_SIZE,
        device=DEVICE,
    wildcard_constraints:
        noise=one_of(ATTACKS),
    threads: 2
    resources:
        gpu=GPU,
    log:
        "logs/attack_images/{dataset}/{model}/{noise}.log",
    benchmark:
        "results/benchmarks/attack_images/{dataset}/{model}/{noise}.tsv"
    script:
        "../workflow_scripts/attack_images.py"
