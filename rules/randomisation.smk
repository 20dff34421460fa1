# Model randomisation (Adebayo et al. 2018): each CAM of the trained model against the CAMs of
# copies whose stages are re-initialised from the logits down, on randomisation.n_images
# evaluation images. The model-free baselines need no job: their similarity is 1 by construction.
rule randomise_model:
    input:
        unpack(model_files),
        images="results/data/{dataset}/eval.zarr",
        segments="results/segments/{dataset}.zarr",
        predictions="results/predictions/{dataset}/{model}/clean.zarr",
    output:
        "results/randomisation/{dataset}/{model}/{cam}.parquet",
    log:
        "logs/randomise_model/{dataset}/{model}/{cam}.log",
    benchmark:
        "results/benchmarks/randomise_model/{dataset}/{model}/{cam}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        n_images=RANDOMISATION["n_images"],
        stages=randomisation_stages,
        rbo_p=config["metric"]["rbo_p"],
        topk=config["metric"]["topk"],
        seed=SEED,
        batch_size=BATCH_SIZE,
        channel_batch_size=config["cam_options"]["channel_batch_size"],
        device=DEVICE,
        plugin=cam_plugin,
    script:
        "../workflow_scripts/randomise_model.py"


rule summarise_randomisation:
    input:
        randomisation_tables(),
    output:
        report(
            "results/summary/randomisation.csv",
            caption="../report/captions/randomisation_table.rst",
            category="Sanity checks",
        ),
    log:
        "logs/summarise_randomisation/summarise_randomisation.log",
    benchmark:
        "results/benchmarks/summarise_randomisation/summarise_randomisation.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/summarise_randomisation.py"


rule plot_randomisation:
    input:
        "results/summary/randomisation.csv",
    output:
        figure=report(
            "results/report/randomisation.png",
            caption="../report/captions/randomisation.rst",
            category="Sanity checks",
        ),
        formats=also("results/report/randomisation.png"),
    log:
        "logs/plot_randomisation/plot_randomisation.log",
    benchmark:
        "results/benchmarks/plot_randomisation/plot_randomisation.tsv"
    conda:
        "../envs/report.yaml"
    params:
        baselines=any(cam in BASELINE_CAMS for cam in config["cams"]),
    script:
        "../workflow_scripts/plot_randomisation.py"
