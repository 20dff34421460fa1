"""Scale table: jobs, sbatch submissions, compute hours and disk per stage of presets/quick.yaml,
presets/paper.yaml and a 50,000-image ImageNet validation run (the paper preset with
``n_images: 50000``), from per-image costs measured on this machine.

Jobs come from ``snakemake -n --quiet rules`` and sbatch submissions from a dry run through
``profiles/slurm``, on copies of the presets whose dataset ``root`` is an empty scratch folder
(a dry run reads no images). Per-image costs come from the library's own stage functions on a few
synthetic 224 px images (the ``shapes`` dataset, cluttered variant) and every architecture of the
presets with random weights, on ``--threads`` torch threads (default 1, as the CPU rules run; on
shared cores two threads spin at their barriers and measure tens of times slower):

- measured CPU wall time: pixel noise per (image, severity), segmentation per image, scoring per
  (image, severity) row with maps upsampled from the target-layer grid, the robustness summary per
  score row, the eight gradient-family maps per image (the features job computes them on the
  host), a forward pass per image (``prepare_model`` computes its accuracy on the CPU), and the
  start-up of a job (``python -c "import torch, camrobust.stages.features, camrobust.cams"``, best of 3);
- counted FLOPs (``torch.utils.flop_counter.FlopCounterMode``, with PyTorch's multi-head-attention
  fast path off so that the counter sees its matrix products) of the model passes: the forward of
  predictions, the forward + backward of the features job, AblationCAM on one image, FGSM and PGD
  per image. ScoreCAM is estimated as (target-layer channels) x (one forward) per image.
- the sanity checks: the randomisation stages derived from each architecture (a job computes the
  CAM (stages + 1) times per image: the trained model's and one per stage), and the FLOPs of the
  explanation attack (GradCAM, one image, one severity) with 1 and 2 steps: their difference is
  the cost of one step, the rest that of the clean view and the random start; the config's
  ``explanation_attack`` settings scale them (restarts x (start + steps x step)). CAMs without a
  cheap gradient cost their own maps on the attack's images (the transfer).

GPU-hours are an ESTIMATE: counted FLOPs / ``--tflops`` (assumed sustained throughput), plus the
CPU-side work measured inside the job, plus the start-up per job. CPU-hours are wall hours on this
machine. Disk is uncompressed (the stores' Zarr/Parquet compression shrinks it; measured
compressed sizes: benchmarks/storage_scaling.py).

    PYTHONPATH=src .venv/bin/python benchmarks/scale_table.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from job_startup import best_of  # this script's folder is on sys.path when it runs
from torch.utils.flop_counter import FlopCounterMode

from camrobust import cams, config, datasets, models, noise, segmentation, vocabulary
from camrobust.analysis.summary import robustness_summary
from camrobust.core.conditions import ConditionImages
from camrobust.core.maps import feature_maps, upsampled_maps
from camrobust.core.model import ModelInput, ModelOnImages, Predictions, prediction_batches
from camrobust.core.pairs import ScoredPairs
from camrobust.sanity import randomisation_stages

REPO = Path(__file__).resolve().parents[1]
PRESETS = {"quick.yaml": ("quick", None), "paper.yaml": ("paper", None), "paper.yaml, 50,000 images": ("paper", 50_000)}
MEASURED_SEVERITY = 3
SCORE_ROW_BYTES = 150
SUBMISSION = re.compile(r"^(?:\[.+\] )?(?:Group job (\w+)|rule (?!all:|stage_\w+:)(\w+):)", re.MULTILINE)
MODEL_CAM_JOB = re.compile(r"rule model_cams:.*?wildcards: [^\n]*cam=(\w+)", re.DOTALL)
#: Table rows: (stage, where it runs, the rules whose jobs it counts); every other rule counts
#: under the last row.
STAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("stage data", "login node", ("stage_evaluation_images", "stage_training_images")),
    ("prepare_model", "CPU", ("prepare_model",)),
    ("perturb_images (pixel noises)", "CPU", ("perturb_images",)),
    ("attack_images (fgsm, pgd)", "GPU", ("attack_images",)),
    ("predict_images", "GPU", ("predict_images",)),
    ("extract_features (+ 8 gradient CAMs)", "GPU", ("extract_features",)),
    ("model_cams: scorecam", "GPU", ()),
    ("model_cams: ablationcam", "GPU", ()),
    ("randomise_model", "GPU", ("randomise_model",)),
    ("explanation_attack (+ transfer)", "GPU", ("explanation_attack", "transfer_explanation_attack")),
    ("segment_images", "CPU", ("segment_images",)),
    ("score_cams", "CPU", ("score_cams",)),
    ("summary, tests, figures", "CPU", ()),
]
FEATURES_ROW = "activations + gradients"


# --------------------------------------------------------------------------- presets and dry runs


def preset_copy(name: str, n_images: int | None, scratch: Path) -> Path:
    """A copy of ``presets/<name>.yaml`` in ``scratch`` with every dataset root an empty folder
    (and ``n_images`` when given)."""
    spec = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())
    empty = scratch / "empty"
    empty.mkdir(exist_ok=True)
    for dataset in spec["datasets"].values():
        dataset["root"] = str(empty)
        if n_images is not None:
            dataset["n_images"] = n_images
    path = scratch / f"{name}_{n_images or 'preset'}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def dry_run(config_path: Path, workdir: Path, *args: str) -> str:
    """Output of ``snakemake -n`` of this checkout on a config, run in ``workdir``."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "-n",
        "--configfile",
        str(config_path),
        *args,
    ]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def job_counts(dry_run_output: str) -> Counter[str]:
    """Jobs per rule (the job table of a dry run, without ``all``)."""
    table = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\ntotal", dry_run_output, re.S)
    if table is None:
        raise ValueError("no job table in the dry run")
    counts = Counter({rule: int(count) for rule, count in (line.split() for line in table.group(1).splitlines())})
    del counts["all"]
    return counts


@dataclass(frozen=True)
class Plan:
    """What the workflow plans for a config: jobs per rule, model_cams jobs per CAM, and sbatch
    submissions per group (or per rule, for rules submitted one job each)."""

    jobs: Counter[str]
    model_cam_jobs: Counter[str]
    submissions: Counter[str]


def plan(config_path: Path, workdir: Path) -> Plan:
    """The jobs and the SLURM-profile submissions of a config."""
    slurm = dry_run(config_path, workdir, "--workflow-profile", str(REPO / "profiles" / "slurm"))
    submissions = Counter(group or rule for group, rule in SUBMISSION.findall(slurm))
    return Plan(job_counts(slurm), Counter(MODEL_CAM_JOB.findall(slurm)), submissions)


# --------------------------------------------------------------------------- measurements


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Seconds since entering, read after the block."""
    started = time.perf_counter()
    elapsed: list[float] = []
    yield lambda: elapsed[0]
    elapsed.append(time.perf_counter() - started)


@contextmanager
def counted_flops() -> Iterator[FlopCounterMode]:
    """A FLOP counter, with the multi-head-attention fast path off (its fused kernel is invisible
    to the counter; the unfused path computes the same products)."""
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False) as counter:
            yield counter
    finally:
        torch.backends.mha.set_fastpath_enabled(True)


def best_time(run: Callable[[], object], repeats: int = 2) -> float:
    """Shortest wall time of ``repeats`` calls (the least disturbed by other work on the cores)."""
    times = []
    for _ in range(repeats):
        with stopwatch() as seconds:
            run()
        times.append(seconds())
    return min(times)


@dataclass(frozen=True)
class ArchCost:
    """Per-image costs of one architecture at 224 px: CPU seconds and FLOPs of its model passes,
    CPU seconds of the eight gradient maps, and its sizes (target layer, logits, parameters)."""

    target_layer: str
    channels: int
    grid: tuple[int, int]
    classes: int
    parameters: int
    forward_s: float
    forward_flops: float
    features_s: float
    features_flops: float
    gradient_maps_s: float
    ablation_s: float
    ablation_flops: float
    attack_s: dict[str, float]
    attack_flops: dict[str, float]
    stages: int
    explanation_start_flops: float
    explanation_step_flops: float

    def cam_flops(self, cam: str) -> float:
        """FLOPs of one map of ``cam`` on one image."""
        if cam == "scorecam":
            return self.scorecam_flops
        if cam == "ablationcam":
            return self.ablation_flops
        return self.features_flops

    @property
    def scorecam_flops(self) -> float:
        """ScoreCAM estimate: one forward per target-layer channel (an upper bound: channels with
        equal or constant maps share one)."""
        return self.channels * self.forward_flops


def measure_arch(arch: str, images: np.ndarray, channel_batch_size: int) -> ArchCost:
    """Time and count the model passes of ``arch`` (random weights) on ``images`` (n, H, W, 3):
    predictions and features on all of them, AblationCAM, FGSM and PGD on one each."""
    device = torch.device("cpu")
    model = models.build_model(arch, 1000, seed=0).eval()
    target_layer = models.DEFAULT_TARGET_LAYERS[arch]
    pre = models.default_preprocessing(arch, None, images.shape[1])
    condition = ConditionImages(images)
    labels = np.zeros(len(images), dtype=np.int64)
    n = len(images)
    model_input = ModelInput(pre.mean, pre.std, device, batch_size=n)

    def predictions() -> Predictions:
        return next(prediction_batches(model, condition, labels, model_input=model_input, progress=False))

    with counted_flops() as counter:
        predicted = predictions()
    forward_flops = counter.get_total_flops() / n
    forward_s = best_time(predictions, repeats=3) / n

    def on_images(subset: np.ndarray, targets: np.ndarray, batch_size: int) -> ModelOnImages:
        return ModelOnImages(
            model=model,
            target=cams.resolve_target(model, target_layer),
            reshape=cams.token_reshape(model, subset.shape[1]),
            model_input=ModelInput(pre.mean, pre.std, device, batch_size),
            images=ConditionImages(subset),
            targets=targets,
        )

    job = on_images(images, predicted.target, n)
    with counted_flops() as counter:
        activations, gradients = next(job.feature_batches(progress=False))
    features_flops = counter.get_total_flops() / n
    features_s = best_time(lambda: next(job.feature_batches(progress=False))) / n
    gradient_maps_s = (
        best_time(lambda: [feature_maps(m, activations, gradients) for m in cams.GRADIENT_METHODS], repeats=5) / n
    )

    one = on_images(images[:1], predicted.target[:1], 1)
    with counted_flops() as ablation_counter, stopwatch() as ablation_s:
        next(one.model_map_batches("ablationcam", channel_batch_size=channel_batch_size, progress=False))

    attack_s, attack_flops = {}, {}
    for attack in noise.ATTACKS:
        with counted_flops() as counter_attack, stopwatch() as seconds:
            noise.attack(
                model,
                images[:1],
                attack,
                MEASURED_SEVERITY,
                0,
                ["0"],
                mean=pre.mean,
                std=pre.std,
                batch_size=1,
                device=device,
            )
        attack_s[attack], attack_flops[attack] = seconds(), counter_attack.get_total_flops()

    segments = segmentation.segment(images[:1], "slic", **segmentation.chosen_params(images.shape[1], "slic", None))
    explanation = []
    for steps in (1, 2):
        with counted_flops() as counter_explanation:
            noise.explanation_attack_images(
                model,
                images[:1],
                segments,
                ["0"],
                method="gradcam",
                target_layer=target_layer,
                mean=pre.mean,
                std=pre.std,
                seed=0,
                severities=(MEASURED_SEVERITY,),
                settings=noise.ExplanationAttackSettings(steps=steps),
                reshape=cams.token_reshape(model, images.shape[1]),
                batch_size=1,
                device=device,
            )
        explanation.append(counter_explanation.get_total_flops())
    stages = randomisation_stages(model, job.model_input.tensor(images[:1]))
    return ArchCost(
        target_layer=target_layer,
        channels=int(activations.shape[2]),
        grid=(int(activations.shape[3]), int(activations.shape[4])),
        classes=int(predicted.logits.shape[-1]),
        parameters=sum(p.numel() for p in model.parameters()),
        forward_s=forward_s,
        forward_flops=forward_flops,
        features_s=features_s,
        features_flops=features_flops,
        gradient_maps_s=gradient_maps_s,
        ablation_s=ablation_s(),
        ablation_flops=ablation_counter.get_total_flops(),
        attack_s=attack_s,
        attack_flops=attack_flops,
        stages=len(stages),
        explanation_start_flops=2 * explanation[0] - explanation[1],
        explanation_step_flops=explanation[1] - explanation[0],
    )


@dataclass(frozen=True)
class CpuCost:
    """CPU seconds: pixel noise per (image, severity) by noise, segmentation per image, scoring
    and the robustness summary per score row, and a job's start-up."""

    noise_s: dict[str, float]
    segment_s: float
    score_row_s: float
    summary_row_s: float
    startup_s: float


def startup_seconds() -> float:
    """Wall time of a bare job process importing torch and the CAM stages, best of 3."""
    return best_of("import torch, camrobust.stages.features, camrobust.cams", REPO / "src", repeats=3)


def synthetic_scores(n_images: int, severities: int, groups: int) -> Any:
    """A score table of ``groups`` (noise, cam) pairs x ``severities`` x ``n_images`` random rows."""
    import pandas as pd

    rng = np.random.default_rng(0)
    n = n_images * severities * groups
    table = pd.DataFrame(
        {
            "dataset": "synthetic",
            "model": "m",
            "noise": np.repeat([f"noise{g % 2}" for g in range(groups)], n_images * severities),
            "cam": np.repeat([f"cam{g // 2}" for g in range(groups)], n_images * severities),
            "severity": np.tile(np.repeat(np.arange(1, severities + 1), n_images), groups),
            "image_id": np.tile([f"img{i}" for i in range(n_images)], severities * groups),
            "changed": rng.random(n) < 0.3,
            "n_regions": rng.integers(20, 60, n),
        }
    )
    for column in vocabulary.similarity_columns():
        table[column] = rng.random(n)
    return table


def measure_cpu(images: np.ndarray, noises: list[str], segmentation_method: str, grid: tuple[int, int]) -> CpuCost:
    """Time the model-free stages on ``images`` (n, H, W, 3)."""
    n, size = len(images), images.shape[1]
    ids = [str(i) for i in range(n)]
    noise_s = {}
    for name in noises:
        noise.perturb(images[:1], name, MEASURED_SEVERITY, 0, ids[:1])
        noise_s[name] = (
            best_time(lambda name=name: noise.perturb(images, name, MEASURED_SEVERITY, 0, ids), repeats=3) / n
        )

    params = segmentation.chosen_params(size, segmentation_method, None)
    with stopwatch() as segment_s:
        segments = segmentation.segment(images, segmentation_method, **params)

    severities = 5
    rng = np.random.default_rng(0)
    raw_clean = rng.random((n, 1, *grid), dtype=np.float32)
    raw_noisy = rng.random((n, severities, *grid), dtype=np.float32)

    def score() -> None:
        pairs = ScoredPairs(
            ids=ids,
            labels=np.zeros(n, dtype=np.int64),
            segments=segments,
            y_clean=np.zeros(n, dtype=np.int64),
            y_noisy=rng.integers(0, 2, (n, severities)),
            clean_maps=upsampled_maps(raw_clean, (size, size))[:, 0],
            noisy_maps=upsampled_maps(raw_noisy, (size, size)),
        )
        keys = {"dataset": "synthetic", "model": "m", "noise": "gaussian_noise", "cam": "gradcam"}
        list(pairs.score_frames(keys, list(range(1, severities + 1)), rbo_p=0.9, topk=0.2))

    score()  # loads or compiles the numba kernels once per process
    score_row_s = best_time(score, repeats=3) / (n * severities)

    scores = synthetic_scores(500, severities, 4)
    summary_row_s = best_time(
        lambda: robustness_summary(scores, attacks=["noise1"], n_boot=1000, ci=0.95, seed=0, min_n=10), repeats=1
    ) / len(scores)
    return CpuCost(noise_s, segment_s() / n, score_row_s, summary_row_s, startup_seconds())


# --------------------------------------------------------------------------- costs per preset


@dataclass
class StageCost:
    """Jobs, compute hours and uncompressed bytes of one stage."""

    jobs: int = 0
    hours: float | None = 0.0
    bytes: float = 0.0


def segmentation_method(cfg: Mapping[str, Any], dataset: str) -> str:
    """The segmentation method of a dataset: its own setting, else the config's, else quickshift."""
    setting = cfg["datasets"][dataset].get("segmentation") or cfg.get("segmentation", {})
    return str(setting.get("method", "quickshift"))


def severity_counts(cfg: Mapping[str, Any]) -> dict[str, int]:
    """Number of severities of every noise of a config."""
    return {name: len(config.noise_severities(entry)) for name, entry in cfg["noises"].items()}


def preset_costs(
    cfg: Mapping[str, Any], planned: Plan, archs: Mapping[str, ArchCost], cpu: CpuCost, tflops: float
) -> dict[str, StageCost]:
    """Jobs, hours and bytes per stage of a validated config."""
    flops_per_s = tflops * 1e12
    severities = severity_counts(cfg)
    pixel = [name for name in severities if name in noise.PIXEL_NOISES]
    attacks = [name for name in severities if name in noise.ATTACKS]
    worst_case = [name for name in severities if name in noise.EXPLANATION_ATTACKS]
    search = cfg["explanation_attack"]
    sanity_cams = [cam for cam in cfg["cams"] if cam not in cams.BASELINE_METHODS]
    model_cams = [cam for cam in cfg["cams"] if cam in cams.MODEL_METHODS]
    stages = {name: StageCost() for name, _, _ in STAGES}
    stages[FEATURES_ROW] = StageCost()
    precision_bytes = 4 if cfg["features"]["precision"] == "float32" else 2
    stages["stage data"].hours = None
    score_rows = 0
    for dataset, spec in cfg["datasets"].items():
        n, size = int(spec["n_images"]), int(spec["image_size"])
        image_bytes = size * size * 3
        stages["stage data"].bytes += n * (image_bytes + 8)
        stages["perturb_images (pixel noises)"].hours += sum(n * severities[p] * cpu.noise_s[p] for p in pixel)
        stages["perturb_images (pixel noises)"].bytes += sum(n * severities[p] * image_bytes for p in pixel)
        stages["segment_images"].hours += n * cpu.segment_s
        stages["segment_images"].bytes += n * (size * size * 4 + 8)
        for name, model in cfg["models"].items():
            if dataset not in config.model_datasets(cfg, name):
                continue
            arch = archs[model["arch"]]
            cells = arch.grid[0] * arch.grid[1]
            model_passes = sum(count for name, count in severities.items() if name not in worst_case)
            rows = n * (1 + model_passes)  # image-severity rows of the conditions with model passes
            noisy_rows = n * sum(severities.values())
            stages["prepare_model"].hours += n * arch.forward_s
            stages["prepare_model"].bytes += arch.parameters * 4
            stages["attack_images (fgsm, pgd)"].hours += (
                sum(n * severities[a] * arch.attack_flops[a] for a in attacks) / flops_per_s
            )
            stages["attack_images (fgsm, pgd)"].bytes += sum(n * severities[a] * (image_bytes + 16) for a in attacks)
            stages["predict_images"].hours += rows * arch.forward_flops / flops_per_s
            stages["predict_images"].bytes += rows * (arch.classes * 4 + 16)
            features = stages["extract_features (+ 8 gradient CAMs)"]
            features.hours += rows * (arch.features_flops / flops_per_s + arch.gradient_maps_s)
            features.bytes += rows * len(cams.GRADIENT_METHODS) * cells * 4
            stages[FEATURES_ROW].bytes += rows * 2 * arch.channels * cells * precision_bytes
            if "scorecam" in model_cams:
                stages["model_cams: scorecam"].hours += rows * arch.scorecam_flops / flops_per_s
                stages["model_cams: scorecam"].bytes += rows * cells * 4
            if "ablationcam" in model_cams:
                stages["model_cams: ablationcam"].hours += rows * arch.ablation_flops / flops_per_s
                stages["model_cams: ablationcam"].bytes += rows * cells * 4
            if cfg["randomisation"]["enabled"]:
                k = min(n, int(cfg["randomisation"]["n_images"]))
                stages["randomise_model"].hours += (
                    sum(k * (arch.stages + 1) * arch.cam_flops(cam) for cam in sanity_cams) / flops_per_s
                )
                stages["randomise_model"].bytes += k * arch.stages * len(sanity_cams) * SCORE_ROW_BYTES
            for name in worst_case:
                pairs = n * severities[name]
                search_flops = search["restarts"] * (
                    arch.explanation_start_flops + search["steps"] * arch.explanation_step_flops
                )
                flops = sum(
                    search_flops if cam in cams.GRADIENT_METHODS else arch.cam_flops(cam) for cam in sanity_cams
                )
                stages["explanation_attack (+ transfer)"].hours += pairs * flops / flops_per_s
                stages["explanation_attack (+ transfer)"].bytes += (
                    pairs * len(sanity_cams) * (image_bytes + cells * 4 + 32)
                )
            model_score_rows = noisy_rows * len(cfg["cams"])
            stages["score_cams"].hours += model_score_rows * cpu.score_row_s
            stages["score_cams"].bytes += model_score_rows * SCORE_ROW_BYTES
            score_rows += model_score_rows
    stages["summary, tests, figures"].hours += score_rows * cpu.summary_row_s
    stages["summary, tests, figures"].bytes += score_rows * SCORE_ROW_BYTES  # the collected score table

    counted = set()
    for name, _, rules in STAGES:
        stages[name].jobs = sum(planned.jobs[rule] for rule in rules)
        counted |= set(rules)
    for cam in ("scorecam", "ablationcam"):
        stages[f"model_cams: {cam}"].jobs = planned.model_cam_jobs[cam]
    if sum(planned.model_cam_jobs.values()) != planned.jobs["model_cams"]:
        raise ValueError(
            f"model_cams: {planned.jobs['model_cams']} jobs planned, {dict(planned.model_cam_jobs)} found per CAM"
        )
    counted.add("model_cams")
    stages["summary, tests, figures"].jobs = sum(count for rule, count in planned.jobs.items() if rule not in counted)
    for name, _, _ in STAGES:
        stage = stages[name]
        if stage.hours is not None:
            stage.hours = (stage.hours + stage.jobs * cpu.startup_s) / 3600
    return stages


# --------------------------------------------------------------------------- output


def hours_text(hours: float | None) -> str:
    if hours is None:
        return "-"
    if hours < 0.01:
        return "<0.01"
    return f"{hours:.3g}" if hours < 1000 else f"{hours:,.0f}"


def size_text(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} B"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def scale_table(costs: Mapping[str, dict[str, StageCost]], plans: Mapping[str, Plan], precision: str) -> str:
    """One row per stage, jobs / hours / disk per preset, then the totals; ``precision``: of the
    activations and gradients."""
    header = ["stage", "on"]
    for label in costs:
        header += [f"{label}: jobs", "hours", "disk"]
    rows = []
    for name, where, _ in STAGES:
        row = [name, "GPU (est.)" if where == "GPU" else where]
        for stages in costs.values():
            stage = stages[name]
            if stage.jobs:
                row += [f"{stage.jobs:,}", hours_text(stage.hours), size_text(stage.bytes)]
            else:
                row += ["0", "-", "-"]
        rows.append(row)
    row = [f"{FEATURES_ROW} (features.keep: true, {precision})", ""]
    for stages in costs.values():
        row += ["", "", size_text(stages[FEATURES_ROW].bytes)]
    rows.append(row)

    def total(label: str, cell: Callable[[str, dict[str, StageCost]], list[str]]) -> list[str]:
        return [f"**{label}**", ""] + [text for preset, stages in costs.items() for text in cell(preset, stages)]

    def stage_sum(stages: dict[str, StageCost], where: str) -> float:
        return sum(stages[name].hours or 0.0 for name, on, _ in STAGES if on == where)

    def disk(stages: dict[str, StageCost], kept: bool) -> float:
        return sum(stage.bytes for name, stage in stages.items() if kept or name != FEATURES_ROW)

    rows += [
        total("jobs", lambda p, s: [f"{sum(st.jobs for st in s.values()):,}", "", ""]),
        total("sbatch submissions (profiles/slurm)", lambda p, s: [f"{sum(plans[p].submissions.values())}", "", ""]),
        total("GPU-hours (estimate)", lambda p, s: ["", hours_text(stage_sum(s, "GPU")), ""]),
        total("CPU-hours", lambda p, s: ["", hours_text(stage_sum(s, "CPU")), ""]),
        total("disk, activations + gradients kept", lambda p, s: ["", "", size_text(disk(s, True))]),
        total("disk, activations + gradients not kept", lambda p, s: ["", "", size_text(disk(s, False))]),
    ]
    return markdown(header, rows)


def submission_table(plans: Mapping[str, Plan]) -> str:
    """sbatch submissions per group (or rule) and preset."""
    names = sorted({name for planned in plans.values() for name in planned.submissions})
    rows = [[name] + [str(planned.submissions[name]) for planned in plans.values()] for name in names]
    rows.append(["**total**"] + [f"**{sum(planned.submissions.values())}**" for planned in plans.values()])
    return markdown(["sbatch submissions: group or rule", *plans], rows)


def arch_table(archs: Mapping[str, ArchCost]) -> str:
    """Measured per-image costs of every architecture."""
    header = [
        "arch (target layer)",
        "C x h x w",
        "forward: s, GFLOP",
        "features (fwd+bwd): s, GFLOP",
        "8 gradient maps: s",
        "AblationCAM: s, GFLOP",
        "ScoreCAM (est.): GFLOP",
        *[f"{attack}: s, GFLOP" for attack in noise.ATTACKS],
        "randomisation stages",
        "explanation attack: start + step, GFLOP",
    ]
    rows = []
    for arch, cost in archs.items():
        rows.append(
            [
                f"{arch} (`{cost.target_layer}`)",
                f"{cost.channels} x {cost.grid[0]} x {cost.grid[1]}",
                f"{cost.forward_s:.3f}, {cost.forward_flops / 1e9:.1f}",
                f"{cost.features_s:.3f}, {cost.features_flops / 1e9:.1f}",
                f"{cost.gradient_maps_s:.4f}",
                f"{cost.ablation_s:.1f}, {cost.ablation_flops / 1e9:.0f}",
                f"{cost.scorecam_flops / 1e9:,.0f}",
                *[f"{cost.attack_s[a]:.2f}, {cost.attack_flops[a] / 1e9:.0f}" for a in noise.ATTACKS],
                str(cost.stages),
                f"{cost.explanation_start_flops / 1e9:.0f} + {cost.explanation_step_flops / 1e9:.0f}",
            ]
        )
    return markdown(header, rows)


def cpu_table(cpu: CpuCost, segmentation_method: str) -> str:
    rows = [
        [f"{name} (severity {MEASURED_SEVERITY})", "(image, severity)", f"{seconds * 1e3:.1f}"]
        for name, seconds in cpu.noise_s.items()
    ]
    rows += [
        [f"segmentation ({segmentation_method})", "image", f"{cpu.segment_s * 1e3:.0f}"],
        ["scoring (upsampling + similarities)", "(image, severity) row", f"{cpu.score_row_s * 1e3:.2f}"],
        ["robustness summary (1000 bootstrap draws)", "score row", f"{cpu.summary_row_s * 1e3:.3f}"],
        ["job start-up (import torch, camrobust.stages.features, camrobust.cams)", "job", f"{cpu.startup_s * 1e3:.0f}"],
    ]
    return markdown(["CPU work at 224 px", "per", "ms"], rows)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tflops", type=float, default=20.0, help="assumed sustained GPU throughput, TFLOP/s")
    parser.add_argument("--images", type=int, default=2, help="synthetic images per model measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the measurements")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="camrobust-scale-") as scratch:
        configs, plans = {}, {}
        for label, (name, n_images) in PRESETS.items():
            path = preset_copy(name, n_images, Path(scratch))
            configs[label] = config.load_config(path)
            plans[label] = plan(path, Path(scratch))
            print(f"planned {label}: {sum(plans[label].jobs.values())} jobs", file=sys.stderr, flush=True)

    spec = {"kind": "shapes", "variant": "cluttered", "n_images": 4, "n_train": 0, "image_size": 224}
    images = next(datasets.stage_dataset_chunks(spec, "eval", 0, 4)[1]).images
    channel_batch = max(int(cfg["cam_options"]["channel_batch_size"]) for cfg in configs.values())
    arch_names = list(dict.fromkeys(model["arch"] for cfg in configs.values() for model in cfg["models"].values()))
    archs = {}
    for arch in arch_names:
        archs[arch] = measure_arch(arch, images[: args.images], channel_batch)
        print(f"measured {arch}", file=sys.stderr, flush=True)
    pixel = list(dict.fromkeys(n for cfg in configs.values() for n in cfg["noises"] if n in noise.PIXEL_NOISES))
    methods = {segmentation_method(cfg, dataset) for cfg in configs.values() for dataset in cfg["datasets"]}
    if len(methods) != 1:
        raise ValueError(f"the presets segment with different methods: {sorted(methods)}")
    method = methods.pop()
    cpu = measure_cpu(images, pixel, method, archs[arch_names[0]].grid)
    costs = {label: preset_costs(configs[label], plans[label], archs, cpu, args.tflops) for label in configs}

    load = os.getloadavg()[0]
    print(
        f"Scale of the presets ({datetime.date.today().isoformat()}, `benchmarks/scale_table.py`, "
        f"{time.perf_counter() - started:.0f} s). Measured on {cpu_name()}, {os.cpu_count()} CPUs "
        f"(load average {load:.1f} during the run), torch {torch.__version__} with {args.threads} torch thread(s), "
        f"random weights, synthetic 224 px images. The cores were shared with other work: CPU times are the "
        f"best of 2-5 runs and still likely high.\n"
    )
    print(
        "- Jobs: `snakemake -n --quiet rules`; sbatch submissions: dry run through `profiles/slurm` "
        "(group jobs and single jobs; local rules are not submitted)."
    )
    print(
        f"- GPU-hours are an ESTIMATE (no GPU is measured): FLOPs of the model passes counted with "
        f"torch.utils.flop_counter.FlopCounterMode on the stage functions at 224 px, divided by an assumed "
        f"sustained {args.tflops:g} TFLOP/s, plus the CPU-side work measured inside the job (the 8 gradient "
        f"maps of the features job) and the measured start-up per job. ScoreCAM: channels x one forward per "
        f"image (an upper bound). Data loading and store writes are not counted."
    )
    print(
        f"- CPU-hours are measured wall hours on this machine with {args.threads} torch thread(s) (per-item cost x "
        "items + start-up x jobs); "
        "`prepare_model` computes its accuracy on the CPU (a forward per evaluation image). Summary, tests, "
        "figures: the robustness summary per score row and the start-up of every job; the other work of "
        "those jobs is not measured."
    )
    precision = configs["paper.yaml"]["features"]["precision"]
    print(
        f"- Disk is UNCOMPRESSED (images N x H x W x 3 B per condition-severity, logits classes x 4 B, "
        f"activations + gradients 2 x C x h x w x {4 if precision == 'float32' else 2} B ({precision}) per "
        f"image-condition, CAM maps h x w x 4 B, segments H x W x 4 B, scores {SCORE_ROW_BYTES} B per row, "
        f"the collected score table once more, model weights 4 B per parameter). The stores compress; "
        f"benchmarks/storage_scaling.py measures compressed sizes.\n"
    )
    print(scale_table(costs, plans, precision))
    print()
    print(submission_table(plans))
    print()
    print(arch_table(archs))
    print()
    print(cpu_table(cpu, method))


if __name__ == "__main__":
    main()
