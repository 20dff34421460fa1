# The report's pages (camrobust.pages): the landing page (the report's first page, the workflow
# description the Snakefile's `report:` reads) and HTML report items, one rule and caption each.


rule page_landing:
    input:
        unpack(
            lambda wc: {
                "summary": "results/summary/robustness.csv",
                "verdicts": "results/summary/verdicts.csv",
                "linked": landing_inputs(),
                **(
                    {"sensitivity": "results/summary/sensitivity.csv"}
                    if sensitivity_tables()
                    else {}
                ),
            }
        ),
    output:
        "results/report/pages/landing.rst",
    log:
        "logs/page_landing/page_landing.log",
    benchmark:
        "results/benchmarks/page_landing/page_landing.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        settings=canonical(
            {
                "cams": list(config["cams"]),
                "rbo_p": config["metric"]["rbo_p"],
                "ci": CI,
                "min_n": MIN_N,
                "practical_difference": config["statistics"]["practical_difference"],
                "alpha": ALPHA,
            }
        ),
        links=lambda wc: canonical(landing_links()),
    script:
        "../workflow_scripts/page_landing.py"


rule page_drilldown:
    input:
        scores=lambda wc: score_paths(wc),
        summary="results/summary/robustness.csv",
        images="results/data/{dataset}/eval.zarr",
        noisy=lambda wc: noisy_images_path(wc.dataset, wc.model, wc.noise),
        segments="results/segments/{dataset}.zarr",
        clean_cams=lambda wc: cam_stores(wc, "clean"),
        noisy_cams=lambda wc: cam_stores(wc, wc.noise),
    output:
        report(
            directory("results/report/pages/drilldown/{dataset}/{model}/{noise}"),
            patterns=["{cam}.html"],
            caption="../report/captions/pages/drilldown.rst",
            category="Drill-down",
            subcategory="{dataset} / {model}",
            labels={"noise": "{noise}", "CAM": "{cam}"},
        ),
    log:
        "logs/page_drilldown/{dataset}/{model}/{noise}.log",
    benchmark:
        "results/benchmarks/page_drilldown/{dataset}/{model}/{noise}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        n_pairs=config["report"]["drilldown_pairs"],
    script:
        "../workflow_scripts/page_drilldown.py"


rule page_sensitivity:
    input:
        table="results/summary/sensitivity.csv",
        figure="results/report/sensitivity.png",
    output:
        report(
            "results/report/pages/sensitivity.html",
            caption="../report/captions/pages/sensitivity.rst",
            category="Sensitivity",
        ),
    log:
        "logs/page_sensitivity/page_sensitivity.log",
    benchmark:
        "results/benchmarks/page_sensitivity/page_sensitivity.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        main=lambda wc: f"rbo_p={config['metric']['rbo_p']:g}, each dataset's own segmentation",
    script:
        "../workflow_scripts/page_sensitivity.py"


rule page_trust:
    input:
        summary="results/summary/trust.csv",
        tests="results/statistics/trust.csv",
        figure="results/report/trust.png",
    output:
        report(
            "results/report/pages/trust.html",
            caption="../report/captions/pages/trust.rst",
            category="Trust",
        ),
    log:
        "logs/page_trust/page_trust.log",
    benchmark:
        "results/benchmarks/page_trust/page_trust.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        alpha=ALPHA,
    script:
        "../workflow_scripts/page_trust.py"
