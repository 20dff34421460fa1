# The built-in gradient-family CAMs come with the features (rules/features.smk); this rule runs
# the `uses: features` plugins on the cached activations and gradients, with no model pass.
rule gradient_cams:
    input:
        "results/features/{dataset}/{model}/{condition}.zarr",
    output:
        directory("results/cams/{dataset}/{model}/{condition}/{cam}.zarr"),
    log:
        "logs/gradient_cams/{dataset}/{model}/{condition}/{cam}.log",
    benchmark:
        "results/benchmarks/gradient_cams/{dataset}/{model}/{condition}/{cam}.tsv"
    wildcard_constraints:
        cam=one_of(FEATURE_PLUGIN_CAMS),
    conda:
        "../envs/torch.yaml"
    params:
        image_size=image_size,
        plugin=cam_plugin,
    script:
        "../workflow_scripts/gradient_cams.py"


rule model_cams:
    input:
        unpack(model_files),
        images=condition_images,
        predictions="results/predictions/{dataset}/{model}/{condition}.zarr",
    output:
        directory("results/cams/{dataset}/{model}/{condition}/{cam}.zarr"),
    log:
        "logs/model_cams/{dataset}/{model}/{condition}/{cam}.log",
    benchmark:
        "results/benchmarks/model_cams/{dataset}/{model}/{condition}/{cam}.tsv"
    wildcard_constraints:
        cam=one_of(NEEDS_MODEL_CAMS),
    conda:
        "../envs/torch.yaml"
    threads: MODEL_THREADS
    resources:
        gpu=GPU,
    params:
        batch_size=BATCH_SIZE,
        channel_batch_size=config["cam_options"]["channel_batch_size"],
        device=DEVICE,
        plugin=cam_plugin,
    script:
        "../workflow_scripts/model_cams.py"


# The edge map is a function of the image alone at the image's resolution (as many values as the
# image's pixels, where the other maps have the layer grid's): its own job, where `cams` names it.
rule edge_maps:
    input:
        images=condition_images,
    output:
        directory("results/cams/{dataset}/{model}/{condition}/edge_map.zarr"),
    log:
        "logs/edge_maps/{dataset}/{model}/{condition}.log",
    benchmark:
        "results/benchmarks/edge_maps/{dataset}/{model}/{condition}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/edge_maps.py"
