rule plot_robustness_heatmap:
    input:
        "results/summary/robustness.csv",
    output:
        figure=report(
            "results/report/{dataset}/{model}/robustness_heatmap.png",
            caption="../report/captions/robustness_heatmap.rst",
            category="Robustness",
            subcategory="{dataset} / {model}",
        ),
        formats=also("results/report/{dataset}/{model}/robustness_heatmap.png"),
    log:
        "logs/plot_robustness_heatmap/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_robustness_heatmap/{dataset}/{model}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        figure="robustness_heatmap",
    script:
        "../workflow_scripts/plot_summary.py"


rule plot_severity_curves:
    input:
        "results/summary/robustness.csv",
    output:
        figure=report(
            "results/report/{dataset}/{model}/severity_curves.png",
            caption="../report/captions/severity_curves.rst",
            category="Robustness",
            subcategory="{dataset} / {model}",
        ),
        formats=also("results/report/{dataset}/{model}/severity_curves.png"),
    log:
        "logs/plot_severity_curves/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_severity_curves/{dataset}/{model}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        figure="severity_curves",
    script:
        "../workflow_scripts/plot_summary.py"


rule plot_cam_overlays:
    input:
        images="results/data/{dataset}/eval.zarr",
        noisy=lambda wc: noisy_images_path(wc.dataset, wc.model, wc.noise),
        segments="results/segments/{dataset}.zarr",
        scores=lambda wc: score_paths(wc),
        clean_cams=lambda wc: cam_stores(wc, "clean"),
        noisy_cams=lambda wc: cam_stores(wc, wc.noise),
    output:
        figure=report(
            "results/report/{dataset}/{model}/{noise}/cam_overlays.jpg",
            caption="../report/captions/cam_overlays.rst",
            category="CAM overlays",
            subcategory="{dataset} / {model}",
        ),
        formats=also("results/report/{dataset}/{model}/{noise}/cam_overlays.jpg"),
    log:
        "logs/plot_cam_overlays/{dataset}/{model}/{noise}.log",
    benchmark:
        "results/benchmarks/plot_cam_overlays/{dataset}/{model}/{noise}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        n_images=config["report"]["overlay_images"],
    script:
        "../workflow_scripts/plot_cam_overlays.py"


rule plot_critical_difference:
    input:
        "results/summary/scores.parquet",
    output:
        preserving=report(
            "results/report/{dataset}/{model}/{noise}/critical_difference_preserving.png",
            caption="../report/captions/critical_difference.rst",
            category="Statistical tests",
            subcategory="{dataset} / {model}",
        ),
        changing=report(
            "results/report/{dataset}/{model}/{noise}/critical_difference_changing.png",
            caption="../report/captions/critical_difference.rst",
            category="Statistical tests",
            subcategory="{dataset} / {model}",
        ),
        formats=also(
            "results/report/{dataset}/{model}/{noise}/critical_difference_preserving.png"
        )
        + also(
            "results/report/{dataset}/{model}/{noise}/critical_difference_changing.png"
        ),
    log:
        "logs/plot_critical_difference/{dataset}/{model}/{noise}.log",
    benchmark:
        "results/benchmarks/plot_critical_difference/{dataset}/{model}/{noise}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        alpha=ALPHA,
    script:
        "../workflow_scripts/plot_critical_difference.py"


rule plot_ranking_agreement:
    input:
        "results/summary/scores.parquet",
    output:
        figure=report(
            "results/report/ranking_agreement.png",
            caption="../report/captions/ranking_agreement.rst",
            category="Summary",
        ),
        formats=also("results/report/ranking_agreement.png"),
        table="results/summary/ranking_agreement.csv",
    log:
        "logs/plot_ranking_agreement/plot_ranking_agreement.log",
    benchmark:
        "results/benchmarks/plot_ranking_agreement/plot_ranking_agreement.tsv"
    conda:
        "../envs/report.yaml"
    params:
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/plot_ranking_agreement.py"


rule plot_sensitivity:
    input:
        "results/summary/sensitivity.csv",
    output:
        figure=report(
            "results/report/sensitivity.png",
            caption="../report/captions/sensitivity.rst",
            category="Sensitivity",
        ),
        formats=also("results/report/sensitivity.png"),
    log:
        "logs/plot_sensitivity/plot_sensitivity.log",
    benchmark:
        "results/benchmarks/plot_sensitivity/plot_sensitivity.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../workflow_scripts/plot_sensitivity.py"


rule plot_change_rates:
    input:
        "results/summary/robustness.csv",
    output:
        figure=report(
            "results/report/change_rates.png",
            caption="../report/captions/change_rates.rst",
            category="Summary",
        ),
        formats=also("results/report/change_rates.png"),
    log:
        "logs/plot_change_rates/plot_change_rates.log",
    benchmark:
        "results/benchmarks/plot_change_rates/plot_change_rates.tsv"
    conda:
        "../envs/report.yaml"
    params:
        figure="change_rates",
    script:
        "../workflow_scripts/plot_summary.py"


rule plot_region_counts:
    input:
        expand("results/segments/{dataset}.zarr", dataset=sorted(config["datasets"])),
    output:
        figure=report(
            "results/report/region_counts.png",
            caption="../report/captions/region_counts.rst",
            category="Summary",
        ),
        formats=also("results/report/region_counts.png"),
    log:
        "logs/plot_region_counts/plot_region_counts.log",
    benchmark:
        "results/benchmarks/plot_region_counts/plot_region_counts.tsv"
    conda:
        "../envs/report.yaml"
    params:
        datasets=sorted(config["datasets"]),
    script:
        "../workflow_scripts/plot_region_counts.py"


rule plot_noise_examples:
    input:
        clean="results/data/{dataset}/eval.zarr",
        noisy=lambda wc: [
            f"results/noisy/{wc.dataset}/{noise}.zarr"
            for noise in config["noises"]
            if noise in MODEL_FREE_NOISES
        ],
    output:
        figure=report(
            "results/report/{dataset}/noise_examples.png",
            caption="../report/captions/noise_examples.rst",
            category="Noise examples",
            subcategory="{dataset}",
        ),
        formats=also("results/report/{dataset}/noise_examples.png"),
    log:
        "logs/plot_noise_examples/{dataset}.log",
    benchmark:
        "results/benchmarks/plot_noise_examples/{dataset}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../workflow_scripts/plot_noise_examples.py"


rule model_card:
    input:
        "results/models/{dataset}/{model}/card.json",
    output:
        report(
            "results/report/{dataset}/{model}/model_card.html",
            caption="../report/captions/model_card.rst",
            category="Models",
            subcategory="{dataset} / {model}",
        ),
    log:
        "logs/model_card/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/model_card/{dataset}/{model}.tsv"
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/model_card.py"


rule plot_trust:
    input:
        "results/summary/trust.csv",
    output:
        figure=report(
            "results/report/trust.png",
            caption="../report/captions/trust.rst",
            category="Trust",
        ),
        formats=also("results/report/trust.png"),
    log:
        "logs/plot_trust/plot_trust.log",
    benchmark:
        "results/benchmarks/plot_trust/plot_trust.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../workflow_scripts/plot_trust.py"
