rule collect_scores:
    input:
        score_tables(),
    output:
        "results/summary/scores.parquet",
    log:
        "logs/collect_scores/collect_scores.log",
    benchmark:
        "results/benchmarks/collect_scores/collect_scores.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/collect_scores.py"


rule summarise_robustness:
    input:
        "results/summary/scores.parquet",
    output:
        report(
            "results/summary/robustness.csv",
            caption="../report/captions/robustness_table.rst",
            category="Summary",
        ),
    log:
        "logs/summarise_robustness/summarise_robustness.log",
    benchmark:
        "results/benchmarks/summarise_robustness/summarise_robustness.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        attacks=sorted(ATTACKS),
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/summarise_robustness.py"


rule export_robustness_table:
    input:
        "results/summary/robustness.csv",
    output:
        markdown="results/summary/robustness.md",
        latex="results/summary/robustness.tex",
    log:
        "logs/export_robustness_table/export_robustness_table.log",
    benchmark:
        "results/benchmarks/export_robustness_table/export_robustness_table.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        ci=CI,
    script:
        "../workflow_scripts/export_robustness_table.py"


rule summarise_verdicts:
    input:
        "results/summary/scores.parquet",
    output:
        report(
            "results/summary/verdicts.csv",
            caption="../report/captions/verdicts.rst",
            category="Summary",
        ),
    log:
        "logs/summarise_verdicts/summarise_verdicts.log",
    benchmark:
        "results/benchmarks/summarise_verdicts/summarise_verdicts.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        practical_difference=config["statistics"]["practical_difference"],
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/summarise_verdicts.py"


rule test_cam_methods:
    input:
        "results/summary/scores.parquet",
    output:
        omnibus=report(
            "results/statistics/cam_methods.csv",
            caption="../report/captions/cam_methods.rst",
            category="Statistical tests",
        ),
        pairwise=report(
            "results/statistics/cam_pairwise.csv",
            caption="../report/captions/cam_pairwise.rst",
            category="Statistical tests",
        ),
    log:
        "logs/test_cam_methods/test_cam_methods.log",
    benchmark:
        "results/benchmarks/test_cam_methods/test_cam_methods.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        test="cam_methods",
        alpha=ALPHA,
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/statistical_tests.py"


rule test_datasets:
    input:
        "results/summary/scores.parquet",
    output:
        report(
            "results/statistics/datasets.csv",
            caption="../report/captions/datasets.rst",
            category="Statistical tests",
        ),
    log:
        "logs/test_datasets/test_datasets.log",
    benchmark:
        "results/benchmarks/test_datasets/test_datasets.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        test="datasets",
        alpha=ALPHA,
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/statistical_tests.py"


rule test_noise_types:
    input:
        "results/summary/scores.parquet",
    output:
        report(
            "results/statistics/noise_types.csv",
            caption="../report/captions/noise_types.rst",
            category="Statistical tests",
        ),
    log:
        "logs/test_noise_types/test_noise_types.log",
    benchmark:
        "results/benchmarks/test_noise_types/test_noise_types.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        test="noise_types",
        alpha=ALPHA,
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/statistical_tests.py"


rule test_severity_trend:
    input:
        "results/summary/scores.parquet",
    output:
        report(
            "results/statistics/severity_trend.csv",
            caption="../report/captions/severity_trend.rst",
            category="Statistical tests",
        ),
    log:
        "logs/test_severity_trend/test_severity_trend.log",
    benchmark:
        "results/benchmarks/test_severity_trend/test_severity_trend.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        test="severity_trend",
        alpha=ALPHA,
        n_bootstrap=N_BOOT,
        ci=CI,
        min_n=MIN_N,
        seed=SEED,
    script:
        "../workflow_scripts/statistical_tests.py"
