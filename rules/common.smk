"""Shared helpers: validated config, output paths and input functions.

Every param taken from the config goes through ``camrobust.canonical`` or is a scalar the schema
typed: equal settings give equal params, which Snakemake compares to rerun a job.
"""

from pathlib import Path

from camrobust.analysis.settings import settings as sensitivity_settings
from camrobust.canonical import canonical, model_settings, staging_settings
from camrobust.datasets.masks import has_masks
from camrobust.config import (
    model_datasets,
    noise_severities,
    severity_table,
    validate_config,
)
from camrobust.registry import (
    ATTACKS,
    BASELINE_CAMS,
    cam_label,
    CAM_METHODS,
    EXPLANATION_ATTACKS,
    GRADIENT_CAMS,
    MODEL_CAMS,
    NOISES,
    PIXEL_NOISES,
)

config.update(validate_config(config))

NAME = "[A-Za-z0-9][A-Za-z0-9_-]*"


def one_of(names):
    """Wildcard regex matching exactly ``names``; matching nothing when there are none."""
    return "|".join(sorted(names, key=len, reverse=True)) or "(?!)"


FEATURE_PLUGIN_CAMS = [
    n for n, e in config["cam_plugins"].items() if e["uses"] == "features"
]
NEEDS_MODEL_CAMS = [
    *MODEL_CAMS,
    *(n for n, e in config["cam_plugins"].items() if e["uses"] == "model"),
]
# Baseline maps on the target layer's grid, written by the features job; the edge map (at the
# image's resolution) has its own job.
GRID_BASELINES = [cam for cam in BASELINE_CAMS if cam != "edge_map"]
MODEL_FREE_NOISES = [*PIXEL_NOISES, *config["noise_plugins"]]
ALL_NOISES = [*NOISES, *config["noise_plugins"]]
# The noises of the per-noise report items (overlays, critical differences, drill-down and
# sensitivity): an explanation attack has a store per CAM and its own table and figure instead.
REPORTED_NOISES = [n for n in config["noises"] if n not in EXPLANATION_ATTACKS]


wildcard_constraints:
    dataset=NAME,
    model=NAME,
    split="eval|train",
    noise=one_of(ALL_NOISES),
    condition=one_of(["clean", *ALL_NOISES]),
    cam=one_of([*CAM_METHODS, *config["cam_plugins"]]),


SEED = config["seed"]
DEVICE = config["device"]
BATCH_SIZE = config["batch_size"]
GPU = 0 if DEVICE == "cpu" else 1
# Threads of a model-pass job (predictions, features, attacks, model-pass CAMs): 2 to feed a GPU;
# on the CPU one each, so that jobs (most of whose time is single-threaded start-up) run side by
# side. The demo CNNs compute identical numbers on 1 and 2 threads.
MODEL_THREADS = 1 if DEVICE == "cpu" else 2
# Bootstrap settings of every interval (summary, tests, verdicts, agreement, sensitivity).
N_BOOT = config["metric"]["n_bootstrap"]
CI = config["metric"]["ci"]
MIN_N = config["metric"]["min_n"]
ALPHA = config["statistics"]["alpha"]
# Vector formats written beside every figure's PNG (report.formats), in one order.
FORMATS = sorted(f for f in config["report"]["formats"] if f != "png")


def experiments():
    """(dataset, model) pairs the config evaluates."""
    return [(d, m) for m in config["models"] for d in model_datasets(config, m)]


def staging_spec(split):
    """Params function: the dataset settings that staging ``split`` reads."""

    def spec(wildcards):
        return staging_settings(config["datasets"][wildcards.dataset], split)

    return spec


def model_spec(wildcards):
    return model_settings(config["models"][wildcards.model])


def image_size(wildcards):
    size = config["datasets"][wildcards.dataset]["image_size"]
    return [size, size]


def segmentation_setting(wildcards):
    return canonical(config["datasets"][wildcards.dataset]["segmentation"])


def severities(wildcards):
    return noise_severities(config["noises"][wildcards.noise])


def custom_noise_params(wildcards):
    return canonical(severity_table(config, wildcards.noise))


def cam_plugin(wildcards):
    return canonical(config["cam_plugins"].get(wildcards.cam))


def noise_plugin(wildcards):
    return canonical(config["noise_plugins"].get(wildcards.noise))


def training_images(wildcards):
    if config["models"][wildcards.model]["kind"] == "trained":
        return f"results/data/{wildcards.dataset}/train.zarr"
    return []


def model_files(wildcards):
    prefix = f"results/models/{wildcards.dataset}/{wildcards.model}"
    return {"card": f"{prefix}/card.json", "weights": f"{prefix}/weights.pt"}


def noisy_images_path(dataset, model, noise):
    if noise in ATTACKS:
        return f"results/attacks/{dataset}/{model}/{noise}.zarr"
    return f"results/noisy/{dataset}/{noise}.zarr"


def noisy_store(wildcards, kind):
    """The noisy predictions (kind "predictions") or CAM store (kind "cams") one score table reads:
    for an explanation attack, its store of the (dataset, model, cam), which holds both.
    """
    d, m = wildcards.dataset, wildcards.model
    if wildcards.noise in EXPLANATION_ATTACKS:
        return f"results/worst_case/{d}/{m}/{wildcards.cam}.zarr"
    if kind == "predictions":
        return f"results/predictions/{d}/{m}/{wildcards.noise}.zarr"
    return f"results/cams/{d}/{m}/{wildcards.noise}/{wildcards.cam}.zarr"


def condition_images(wildcards):
    """Images of one condition: the clean store, or the noisy store of a noise type."""
    if wildcards.condition == "clean":
        return f"results/data/{wildcards.dataset}/eval.zarr"
    return noisy_images_path(wildcards.dataset, wildcards.model, wildcards.condition)


def scored_cams(noise):
    """The CAMs scored under ``noise``: all, but no baseline map under an explanation attack (the
    attack searches through a CAM of the model, and a baseline map reads none)."""
    return MODEL_CAMS_IN_CONFIG if noise in EXPLANATION_ATTACKS else config["cams"]


def score_tables():
    return [
        f"results/scores/{d}/{m}/{noise}/{cam}.parquet"
        for d, m in experiments()
        for noise in config["noises"]
        for cam in scored_cams(noise)
    ]


def attack_stores():
    return {
        f"{d}/{m}/{noise}": noisy_images_path(d, m, noise)
        for d, m in experiments()
        for noise in config["noises"]
        if noise in ATTACKS
    }


def score_paths(wildcards):
    """The score tables of every CAM of one (dataset, model, noise)."""
    prefix = f"results/scores/{wildcards.dataset}/{wildcards.model}/{wildcards.noise}"
    return [f"{prefix}/{cam}.parquet" for cam in scored_cams(wildcards.noise)]


def cam_stores(wildcards, condition):
    prefix = f"results/cams/{wildcards.dataset}/{wildcards.model}/{condition}"
    return [f"{prefix}/{cam}.zarr" for cam in config["cams"]]


STATISTICS = [
    "cam_methods",
    "cam_pairwise",
    "datasets",
    "noise_types",
    "severity_trend",
]


def mask_datasets():
    """The datasets with ground-truth masks (shapes; imagefolder with masks; imagenet_val with boxes)."""
    return sorted(d for d, spec in config["datasets"].items() if has_masks(spec))


def mask_spec(wildcards):
    """Params function: the dataset settings that staging its masks reads."""
    spec = config["datasets"][wildcards.dataset]
    return canonical(
        {k: v for k, v in spec.items() if k not in ("segmentation", "n_train")}
    )


def faithfulness_settings():
    """The faithfulness section's settings, canonical (``enabled`` plans the jobs, no setting)."""
    section = config["faithfulness"]
    return canonical({k: v for k, v in section.items() if k != "enabled"})


def faithfulness_tables():
    if not config["faithfulness"]["enabled"]:
        return []
    return [
        f"results/faithfulness/{d}/{m}/{cam}.parquet"
        for d, m in experiments()
        for cam in config["cams"]
    ]


def localisation_tables():
    if not config["localisation"]["enabled"]:
        return []
    return [
        f"results/localisation/{d}/{m}/{cam}.parquet"
        for d, m in experiments()
        if d in mask_datasets()
        for cam in config["cams"]
    ]


def localisation_cams(wildcards):
    """Condition -> CAM store of one (dataset, model, cam): the clean images and every noise but
    the explanation attack (its maps are a worst case, per CAM, not a condition of the images).
    """
    prefix = f"results/cams/{wildcards.dataset}/{wildcards.model}"
    return {
        condition: f"{prefix}/{condition}/{wildcards.cam}.zarr"
        for condition in ["clean", *sorted(REPORTED_NOISES)]
    }


def trust_outputs():
    return [
        "results/summary/trust.csv",
        "results/summary/trust_localisation.csv",
        "results/statistics/trust.csv",
        "results/statistics/trust_pairwise.csv",
        "results/report/trust.png",
        *also("results/report/trust.png"),
        "results/report/pages/trust.html",
    ]


def also(path):
    """The vector-format copies of a figure ``path`` (wildcards kept): one per FORMATS."""
    stem = path.rsplit(".", 1)[0].replace("{", "{{").replace("}", "}}")
    return expand(f"{stem}.{{ext}}", ext=FORMATS)


def dataset_sensitivity(dataset):
    """The metric.sensitivity settings of ``dataset`` (those other than its main ones), canonical:
    [{name, rbo_p, segmentation}]."""
    method = config["datasets"][dataset]["segmentation"].get("method", "quickshift")
    main_p = config["metric"]["rbo_p"]
    chosen = sensitivity_settings(
        config["metric"]["sensitivity"], rbo_p=main_p, segmentation=method
    )
    return canonical(
        [
            {
                "name": s.name,
                "rbo_p": s.value if s.parameter == "rbo_p" else main_p,
                "segmentation": s.value if s.parameter == "segmentation" else method,
            }
            for s in chosen
        ]
    )


def sensitivity_tables():
    return [
        f"results/sensitivity/scores/{d}/{m}/{noise}.parquet"
        for d, m in experiments()
        if dataset_sensitivity(d)
        for noise in REPORTED_NOISES
    ]


def sensitivity_segments(wildcards):
    """Segmentation method -> segments store of the settings of a dataset: the main store for
    its own method, a sensitivity store for another."""
    own = config["datasets"][wildcards.dataset]["segmentation"].get(
        "method", "quickshift"
    )
    methods = sorted(
        {s["segmentation"] for s in dataset_sensitivity(wildcards.dataset)}
    )
    return {
        method: (
            f"results/segments/{wildcards.dataset}.zarr"
            if method == own
            else f"results/sensitivity/segments/{wildcards.dataset}/{method}.zarr"
        )
        for method in methods
    }


def drilldown_pages():
    """The drill-down folders, one per (dataset, model, noise): a page per CAM in each."""
    return [
        f"results/report/pages/drilldown/{d}/{m}/{noise}"
        for d, m in sorted(experiments())
        for noise in sorted(REPORTED_NOISES)
    ]


def landing_inputs():
    """What the landing page links, as the outputs that make it (a drill-down folder for its pages)."""
    links = landing_links()
    files = [row[-1] for rows in links.values() for row in rows]
    return [f for f in files if "/pages/drilldown/" not in f] + drilldown_pages()


def landing_links():
    """The report items the landing page links: rows (dataset, model, label, path), (dataset,
    model, noise, label, path) and (label, path), in sorted order (the config's key order is no
    setting)."""
    experiment, per_noise = [], []
    for d, m in sorted(experiments()):
        prefix = f"results/report/{d}/{m}"
        experiment += [
            [d, m, "robustness heat-map", f"{prefix}/robustness_heatmap.png"],
            [d, m, "severity curves", f"{prefix}/severity_curves.png"],
            [d, m, "model card", f"{prefix}/model_card.html"],
        ]
        for noise in sorted(REPORTED_NOISES):
            per_noise += [
                [d, m, noise, "CAM overlays", f"{prefix}/{noise}/cam_overlays.jpg"],
                [
                    d,
                    m,
                    noise,
                    "critical difference (preserving)",
                    f"{prefix}/{noise}/critical_difference_preserving.png",
                ],
                [
                    d,
                    m,
                    noise,
                    "critical difference (changing)",
                    f"{prefix}/{noise}/critical_difference_changing.png",
                ],
            ]
            per_noise += [
                [
                    d,
                    m,
                    noise,
                    f"drill-down {cam_label(cam)}",
                    f"results/report/pages/drilldown/{d}/{m}/{noise}/{cam}.html",
                ]
                for cam in config["cams"]
            ]
    run = [
        ["ranking agreement", "results/report/ranking_agreement.png"],
        ["change rates", "results/report/change_rates.png"],
        ["region counts", "results/report/region_counts.png"],
        ["robustness table (CSV)", "results/summary/robustness.csv"],
        ["verdicts (CSV)", "results/summary/verdicts.csv"],
        ["CAM pairs (tests)", "results/statistics/cam_pairwise.csv"],
        ["which CAM to trust", "results/report/pages/trust.html"],
        ["trust summary (CSV)", "results/summary/trust.csv"],
    ]
    run += sanity_links()
    if sensitivity_tables():
        run.append(
            [
                "sensitivity to the metric's settings",
                "results/report/pages/sensitivity.html",
            ]
        )
    return {"experiment": experiment, "noise": per_noise, "run": run}


def figures():
    per_experiment = [
        f"results/report/{d}/{m}/{figure}.png"
        for d, m in experiments()
        for figure in ["robustness_heatmap", "severity_curves"]
    ]
    per_noise = [
        f"results/report/{d}/{m}/{noise}/{figure}"
        for d, m in experiments()
        for noise in REPORTED_NOISES
        for figure in [
            "cam_overlays.jpg",
            "critical_difference_preserving.png",
            "critical_difference_changing.png",
        ]
    ]
    return (
        per_experiment
        + per_noise
        + [
            "results/report/ranking_agreement.png",
            "results/report/region_counts.png",
            "results/report/change_rates.png",
        ]
        + [f"results/report/{d}/noise_examples.png" for d in config["datasets"]]
    )


def sensitivity_outputs():
    if not sensitivity_tables():
        return []
    return [
        "results/summary/sensitivity.csv",
        "results/report/sensitivity.png",
        *also("results/report/sensitivity.png"),
        "results/report/pages/sensitivity.html",
    ]


def landing_page():
    """The Snakefile's ``report:`` file: the generated landing page where it exists (an absolute
    path: Snakemake joins a relative one to the Snakefile's folder, not the working directory).
    """
    landing = Path("results/report/pages/landing.rst").resolve()
    return str(landing) if landing.exists() else "report/workflow.rst"


def final_outputs():
    return [
        "results/summary/robustness.csv",
        "results/summary/robustness.md",
        "results/summary/robustness.tex",
        "results/summary/verdicts.csv",
        *[f"results/statistics/{name}.csv" for name in STATISTICS],
        *figures(),
        *[f"results/report/{d}/{m}/model_card.html" for d, m in experiments()],
        *drilldown_pages(),
        *sensitivity_outputs(),
        *trust_outputs(),
        *sanity_outputs(),
        "results/report/pages/landing.rst",
    ]


# --- sanity checks: model randomisation and worst-case consistency (rules/randomisation.smk,
# rules/worst_case.smk) ---

RANDOMISATION = config["randomisation"]
ATTACK = config["explanation_attack"]
WORST_CASE = next((n for n in config["noises"] if n in EXPLANATION_ATTACKS), None)
# CAMs whose maps depend on a model: the model-free baselines need no randomisation or attack job.
MODEL_CAMS_IN_CONFIG = [c for c in config["cams"] if c not in BASELINE_CAMS]


def randomisation_tables():
    if not RANDOMISATION["enabled"]:
        return []
    return [
        f"results/randomisation/{d}/{m}/{cam}.parquet"
        for d, m in experiments()
        for cam in MODEL_CAMS_IN_CONFIG
    ]


def randomisation_summary(wildcards):
    """The randomisation summary where the model randomisation runs, for the trust summary."""
    if not randomisation_tables():
        return {}
    return {"randomisation": "results/summary/randomisation.csv"}


def randomisation_stages(wildcards):
    """The configured stages of a model (randomisation.stages), or None to derive them."""
    return canonical(RANDOMISATION["stages"].get(wildcards.model))


def attack_source(cam):
    """The CAM whose explanation attack finds the images of ``cam``: itself where it has a cheap
    input gradient (a built-in gradient-family CAM), else explanation_attack.transfer_source.
    """
    return cam if cam in GRADIENT_CAMS else ATTACK["transfer_source"]


def worst_case_stores():
    """Attack store per key dataset/model/cam, in sorted order."""
    if WORST_CASE is None:
        return {}
    return {
        f"{d}/{m}/{cam}": f"results/worst_case/{d}/{m}/{cam}.zarr"
        for d, m in sorted(experiments())
        for cam in sorted(MODEL_CAMS_IN_CONFIG)
    }


def attack_severities(wildcards):
    return noise_severities(config["noises"][WORST_CASE])


def attack_budgets():
    """Severity -> L-inf budget (fraction of the pixel range) of the explanation attack."""
    from camrobust.noise.catalogue import severity_parameter

    params = severity_table(config, WORST_CASE)
    return {
        s: float(severity_parameter(WORST_CASE, s, params))
        for s in noise_severities(config["noises"][WORST_CASE])
    }


def sanity_links():
    """Landing-page rows of the sanity checks' tables and figures."""
    rows = []
    if randomisation_tables():
        rows += [
            ["model randomisation", "results/report/randomisation.png"],
            ["randomisation (CSV)", "results/summary/randomisation.csv"],
        ]
    if worst_case_stores():
        rows += [
            ["worst case vs uniform noise", "results/report/worst_case.png"],
            ["worst-case consistency (CSV)", "results/summary/worst_case.csv"],
        ]
    return rows


def sanity_outputs():
    outputs = []
    for _, path in sanity_links():
        outputs += [path, *(also(path) if path.endswith(".png") else [])]
    return outputs
