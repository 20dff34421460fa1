"""The notebook API: :func:`evaluate` runs the workflow's stages on arrays in memory.

Every step calls the kernel the workflow's job runs on its chunks (:mod:`camrobust.core`): the
noise with its per-image generators, predictions, target-layer features and CAMs, the segments
and the scores; then the robustness summary (:mod:`camrobust.analysis.summary`). No store is
read or written. With the workflow's image ids, dataset name, seed, batch size and settings
(features at float32, the default), the tables equal the workflow's ``scores.parquet`` and
``robustness.csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from camrobust import plugins, registry, vocabulary
from camrobust.analysis.summary import robustness_summary
from camrobust.core.conditions import ConditionImages, flat
from camrobust.core.maps import baseline_feature_maps, feature_maps
from camrobust.core.model import ModelInput, ModelOnImages, prediction_batches
from camrobust.core.noisy import NoiseSetting, attack_chunks, noisy_chunks
from camrobust.core.pairs import score_table
from camrobust.core.segments import segment_chunks
from camrobust.core.trust import checked_masks, faithfulness_rows, localisation_rows

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import nn

    from camrobust.cams import Reshape, TargetLayer
    from camrobust.models import ModelCard


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` found for one model on one set of images.

    ``scores``: one row per (noise, cam, severity, image), the columns of the workflow's
    ``scores.parquet``. ``summary``: C, R, RM with bootstrap CIs per (cam, noise, severity) and
    pooled over severities (``severity == "all"``), the columns of ``robustness.csv``.
    ``n_regions``: segmentation regions per clean image; ``segmentation``: the method and
    parameters used; ``n_bootstrap``, ``ci``, ``min_n`` and ``seed``: the settings of every
    interval, which the statistics and verdicts use too.
    """

    scores: pd.DataFrame
    summary: pd.DataFrame
    n_regions: np.ndarray
    segmentation: dict[str, Any]
    dataset: str
    model: str
    n_bootstrap: int = 1000
    ci: float = 0.95
    min_n: int = 10
    seed: int = 0
    faithfulness: pd.DataFrame | None = None
    localisation: pd.DataFrame | None = None

    def _trust_parts(self) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        if self.faithfulness is None:
            raise ValueError("no trust tables: call evaluate(..., trust=True)")
        localisation = [] if self.localisation is None else [self.localisation]
        return [self.faithfulness], localisation

    def trust_summary(self) -> pd.DataFrame:
        """The workflow's ``results/summary/trust.csv`` (:func:`camrobust.analysis.trust.trust_summary`):
        pooled RM, every faithfulness and localisation score with its CI over images, ranks per score
        and axis; needs ``evaluate(..., trust=True)``."""
        from camrobust.analysis import trust

        faithfulness, localisation = self._trust_parts()
        settings: dict[str, Any] = {"n_boot": self.n_bootstrap, "ci": self.ci, "min_n": self.min_n, "seed": self.seed}
        groups = (((key,), rows) for key, rows in self.scores.groupby(list(trust.TRUST_KEYS), sort=True))
        parts = [
            trust.pooled_robustness(groups, **settings),
            trust.score_estimates(faithfulness, vocabulary.FAITHFULNESS, **settings),
        ]
        clean = [table[table["condition"] == "clean"] for table in localisation]
        if clean:
            parts.append(trust.score_estimates(clean, vocabulary.LOCALISATION, **settings))
        return trust.trust_summary(parts)

    def localisation_under_noise(self) -> pd.DataFrame:
        """The workflow's ``results/summary/trust_localisation.csv``: each localisation score per CAM,
        condition and severity with its CI over images (empty without masks)."""
        from camrobust.analysis import trust

        _, localisation = self._trust_parts()
        if not localisation:
            return pd.DataFrame(columns=list(trust.NOISE_KEYS))
        return trust.localisation_under_noise(
            localisation, n_boot=self.n_bootstrap, ci=self.ci, min_n=self.min_n, seed=self.seed
        )

    def trust_tests(self, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The workflow's ``results/statistics/trust.csv`` and ``trust_pairwise.csv``: Friedman and
        Nemenyi tests across the CAMs per faithfulness and (clean) localisation score."""
        from camrobust.analysis import trust

        faithfulness, localisation = self._trust_parts()
        settings: dict[str, Any] = {
            "alpha": alpha,
            "n_boot": self.n_bootstrap,
            "ci": self.ci,
            "min_n": self.min_n,
            "seed": self.seed,
        }
        found = [trust.trust_tests(faithfulness, **settings)]
        clean = [table[table["condition"] == "clean"] for table in localisation]
        if clean:
            found.append(trust.trust_tests(clean, **settings))
        return (
            pd.concat([tests for tests, _ in found], ignore_index=True),
            pd.concat([pairs for _, pairs in found], ignore_index=True),
        )

    def trust_figure(self) -> Figure:
        """Every CAM's rank and value per score of the trust summary, baselines marked."""
        from camrobust import plots

        return plots.trust_figure(self.trust_summary())

    def statistics(self, alpha: float = 0.05) -> dict[str, pd.DataFrame]:
        """The workflow's statistical tests (``results/statistics/<name>.csv``) by name:
        cam_methods, cam_pairwise, datasets, noise_types, severity_trend; ``significant`` at ``alpha``."""
        from camrobust.analysis import stats

        return stats.all_tests(
            self.scores, alpha=alpha, n_boot=self.n_bootstrap, ci=self.ci, min_n=self.min_n, seed=self.seed
        )

    def verdicts(self, practical_difference: float = 0.05) -> pd.DataFrame:
        """Per noise, the most robust CAM method where the data name one (the workflow's
        ``results/summary/verdicts.csv``): RM ahead of every other by more than
        ``practical_difference``, with a paired bootstrap CI over images that excludes 0."""
        from camrobust.analysis.verdicts import verdicts

        return verdicts(
            self.scores,
            practical_difference=practical_difference,
            n_boot=self.n_bootstrap,
            ci=self.ci,
            seed=self.seed,
            min_n=self.min_n,
        )

    def robustness_heatmap(self) -> Figure:
        """Consistency, Responsiveness and RM per CAM and noise, pooled over severities."""
        from camrobust import plots

        return plots.robustness_heatmap_figure(self.summary, self.dataset, self.model)

    def severity_curves(self, max_columns: int = 4) -> Figure:
        """Consistency and Responsiveness vs severity with their CIs, one column per noise."""
        from camrobust import plots

        return plots.severity_curves_figure(self.summary, self.dataset, self.model, max_columns=max_columns)

    def critical_difference(self, noise: str, set_name: str = "preserving", alpha: float = 0.05) -> Figure:
        """Critical-difference diagram of the CAM methods under ``noise`` (Nemenyi at ``alpha``, images
        as subjects, pooled over severities), on the class-preserving (``"preserving"``, r) or
        class-changing (``"changing"``, 1 - r) pairs."""
        from camrobust import plots
        from camrobust.analysis import stats

        ranking = stats.cam_ranking(
            self.scores, dataset=self.dataset, model=self.model, noise=noise, set_name=set_name, alpha=alpha
        )
        title = plots.critical_difference_title(self.dataset, self.model, noise, set_name)
        return plots.critical_difference_figure(ranking, title)

    def change_rates(self) -> Figure:
        """Share of images whose predicted class each noise and severity changed."""
        from camrobust import plots

        return plots.change_rates_figure(self.summary)


def evaluate(
    model: nn.Module,
    images: np.ndarray,
    *,
    target_layer: str | nn.Module | TargetLayer,
    cams: Sequence[str],
    noises: Mapping[str, Sequence[int] | Mapping[str, Any]],
    labels: Sequence[int] | np.ndarray | None = None,
    ids: Sequence[str] | None = None,
    preprocessing: ModelCard | Mapping[str, Sequence[float]] | None = None,
    segmentation: Mapping[str, Any] | None = None,
    noise_plugins: Mapping[str, Mapping[str, Any]] | None = None,
    rbo_p: float = 0.9,
    topk: float = 0.2,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    min_n: int = 10,
    seed: int = 0,
    target: str = "predicted",
    device: str = "cpu",
    batch_size: int = 64,
    channel_batch_size: int = 64,
    dataset: str = "images",
    model_name: str = "model",
    progress: bool = True,
    trust: bool = False,
    masks: np.ndarray | None = None,
    faithfulness: Mapping[str, Any] | None = None,
    tolerance: float = 0.0,
) -> Evaluation:
    """How robust the CAMs of ``model`` are to ``noises`` on uint8 ``images`` (N, H, W, 3).

    - ``target_layer``: a module path as in the config (``"features.29"``, ``"relu(norm5)"``),
      the module itself or a :class:`camrobust.cams.TargetLayer`.
    - ``cams``: built-in method names and names given to :func:`camrobust.register_cam`.
    - ``noises``: ``{name: [severities]}`` or ``{name: {"severities": [...], "params": [...]}}``,
      as in the config; ``noise_plugins``: ``{name: {"function": f, "params": [...]}}`` with ``f``
      a callable or ``"module:attr"`` (called as the config's noise plugins are).
    - ``labels``: class per image (the ``label`` column; -1 when not given); ``target="label"``
      explains the label instead of the prediction. ``ids`` (default ``"0"``, ``"1"``, ...) and
      ``dataset`` key each image's noise generator with ``seed``, as the workflow does.
    - ``preprocessing``: ``{"mean": [...], "std": [...]}`` (one value each feeds the luminance)
      or a model card (:func:`camrobust.load_model`); default ImageNet statistics.
    - ``segmentation``: ``{"method": "quickshift" or "slic", "params": {...}}``; parameters not
      given are chosen from the image size.
    - ``batch_size``: image-severity rows per model pass; ``channel_batch_size``: masked inputs
      per pass of ScoreCAM / AblationCAM; ``n_bootstrap`` and ``ci``: the bootstrap CIs, none for
      a set of fewer than ``min_n`` images.
    - ``trust=True`` also scores faithfulness on the clean images (settings ``faithfulness``, the
      config's ``faithfulness:`` section) and, with bool object ``masks`` (N, H, W), localisation
      on the clean and every noisy image (pointing-game ``tolerance`` in px): the tables of
      :meth:`Evaluation.trust_summary`, :meth:`Evaluation.trust_tests` and
      :meth:`Evaluation.localisation_under_noise`.

    Runs in memory: at a time it holds the clean images, one noise type's noisy images
    (N x severities x H x W x 3 bytes, 750 MB for 1000 images of 224 px at 5 severities), the
    segments (4 bytes a pixel) and the raw maps on the target layer's grid. That suits up to a
    few thousand images; on a GPU (``device="cuda"``), for more images, cached and resumable
    stages, incremental reruns or a cluster, use the Snakemake workflow (README). The model is
    moved to ``device`` and put in eval mode.
    """
    from camrobust import config
    from camrobust import segmentation as segmenting
    from camrobust.cams import resolve_target, token_reshape
    from camrobust.devices import resolve_device

    n, h, w = _check_images(images)
    labels_array = _labels(labels, n)
    image_ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
    if len(image_ids) != n or len(set(image_ids)) != n:
        raise ValueError(f"ids: expected {n} distinct image ids, got {len(image_ids)} ({len(set(image_ids))} distinct)")
    if target not in ("predicted", "label") or (target == "label" and labels is None):
        raise ValueError(f"target: 'predicted', or 'label' with labels given; got {target!r}")
    cam_plugins = _cam_plugins(cams)
    noise_plugins = dict(noise_plugins or {})
    entries = _noise_entries(noises, noise_plugins)
    noise_config = {"noises": entries, "noise_plugins": noise_plugins}
    noise_settings = {
        name: (config.noise_severities(entry), config.severity_table(noise_config, name))
        for name, entry in entries.items()
    }
    mean, std = _normalisation(preprocessing)
    model_input = ModelInput(mean, std, resolve_device(device), batch_size)
    model = model.to(model_input.device).eval()
    layer = resolve_target(model, target_layer)
    run = _Run(
        model=model,
        layer=layer,
        reshape=token_reshape(model, (h, w)),
        model_input=model_input,
        labels=labels_array,
        target=target,
        cam_plugins=cam_plugins,
        channel_batch_size=channel_batch_size,
        progress=progress,
    )

    setting = dict(segmentation or {})
    method = setting.get("method", "quickshift")
    params = segmenting.chosen_params(h, method, setting.get("params"))
    segments = np.concatenate(list(segment_chunks(images, method, params, progress=progress)))
    truth = checked_masks(masks, n, h, w) if trust else None
    clean_pred, clean_maps = run.condition(ConditionImages(images), image_ids, "clean", seed)
    keys = {cam: {"dataset": dataset, "model": model_name, "cam": cam} for cam in cams}
    localisation: list[pd.DataFrame] = []
    faithfulness_table = None
    if trust:
        targets = labels_array if target == "label" else clean_pred[:, 0]
        faithfulness_table = faithfulness_rows(
            run.model,
            run.model_input,
            images,
            clean_maps,
            segments,
            targets,
            ids=image_ids,
            keys=keys,
            settings=faithfulness,
            seed=seed,
        )
        if truth is not None:
            localisation += localisation_rows(clean_maps, truth, image_ids, "clean", [0], keys, tolerance, model_input)

    tables: dict[tuple[str, str], pd.DataFrame] = {}
    for noise, (severities, noise_params) in noise_settings.items():
        noise_setting = NoiseSetting(noise, severities, noise_params, seed, dataset)
        if noise in registry.ATTACKS:
            chunks = attack_chunks(model, images, image_ids, noise_setting, model_input=model_input, progress=progress)
            noisy = np.concatenate([adversarial for adversarial, _, _ in chunks])
        else:
            function = _noise_function(noise, noise_plugins)
            chunked = noisy_chunks(images, image_ids, noise_setting, function=function, progress=progress)
            noisy = np.concatenate(list(chunked))
        noisy_pred, noisy_maps = run.condition(ConditionImages(noisy, severities), image_ids, noise, seed)
        if truth is not None:
            localisation += localisation_rows(
                noisy_maps, truth, image_ids, noise, severities, keys, tolerance, model_input
            )
        for cam in cams:
            tables[noise, cam] = score_table(
                {"dataset": dataset, "model": model_name, "noise": noise, "cam": cam},
                severities,
                ids=image_ids,
                labels=labels_array,
                segments=segments,
                y_clean=clean_pred[:, 0],
                y_noisy=noisy_pred,
                clean_raw=clean_maps[cam],
                noisy_raw=noisy_maps[cam],
                rbo_p=rbo_p,
                topk=topk,
            )
    scores = pd.concat([tables[key] for key in sorted(tables)], ignore_index=True)
    summary = robustness_summary(scores, attacks=registry.ATTACKS, n_boot=n_bootstrap, ci=ci, seed=seed, min_n=min_n)
    return Evaluation(
        scores=scores,
        summary=summary,
        n_regions=segmenting.region_counts(segments),
        segmentation={"method": method, "params": params},
        dataset=dataset,
        model=model_name,
        n_bootstrap=n_bootstrap,
        ci=ci,
        min_n=min_n,
        seed=seed,
        faithfulness=faithfulness_table,
        localisation=pd.concat(localisation, ignore_index=True) if localisation else None,
    )


@dataclass(frozen=True)
class _Run:
    """The model and settings of one :func:`evaluate` call, applied to one condition at a time."""

    model: nn.Module
    layer: TargetLayer
    reshape: Reshape | None
    model_input: ModelInput
    labels: np.ndarray
    target: str
    cam_plugins: dict[str, plugins.CamPlugin | None]
    channel_batch_size: int
    progress: bool

    def condition(
        self, images: ConditionImages, ids: Sequence[str], condition: str, seed: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Predictions (n, S) and raw maps (n, S, h, w) per CAM of one condition's images; the
        baseline maps seeded by the image ``ids``, the ``condition`` and the ``seed`` as the
        workflow's (:func:`camrobust.core.maps.condition_ids`)."""
        from camrobust.cams import GRADIENT_METHODS, layer_grid

        batches = prediction_batches(
            self.model,
            images,
            self.labels,
            model_input=self.model_input,
            target_mode=self.target,
            progress=self.progress,
        )
        predictions = list(batches)
        on_images = ModelOnImages(
            model=self.model,
            target=self.layer,
            reshape=self.reshape,
            model_input=self.model_input,
            images=images,
            targets=np.concatenate([batch.target for batch in predictions]),
        )
        by_features = [
            cam
            for cam, plugin in self.cam_plugins.items()
            if (cam in GRADIENT_METHODS if plugin is None else plugin.uses == "features")
        ]
        maps: dict[str, list[np.ndarray]] = {cam: [] for cam in self.cam_plugins}
        if by_features:
            for activations, gradients in on_images.feature_batches(self.progress):
                for cam in by_features:
                    maps[cam].append(feature_maps(cam, activations, gradients, self.cam_plugins[cam]))
        baselines = [cam for cam in self.cam_plugins if cam in registry.BASELINE_CAMS]
        if baselines:
            first = self.model_input.tensor(flat(images.read(slice(0, 1))))
            grid = layer_grid(self.model, self.layer, first, self.reshape)
            targets = on_images.targets
            for cam in baselines:
                maps[cam] = [
                    baseline_feature_maps(
                        cam,
                        images.read(rows),
                        np.asarray(targets[rows]),
                        ids=ids[rows],
                        condition=condition,
                        severities=images.severities,
                        grid=grid,
                        seed=seed,
                    )
                    for rows in images.model_batches(self.model_input.batch_size)
                ]
        for cam, plugin in self.cam_plugins.items():
            if cam not in by_features and cam not in baselines:
                batches_of_maps = on_images.model_map_batches(
                    cam, channel_batch_size=self.channel_batch_size, plugin=plugin, progress=self.progress
                )
                maps[cam] = list(batches_of_maps)
        pred = np.concatenate([batch.pred for batch in predictions])
        return pred, {cam: np.concatenate(parts) for cam, parts in maps.items()}


def _check_images(images: Any) -> tuple[int, int, int]:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"images: expected a uint8 array (N, H, W, 3), got {got}")
    if len(images) == 0:
        raise ValueError("images: no images to evaluate")
    return int(images.shape[0]), int(images.shape[1]), int(images.shape[2])


def _labels(labels: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray:
    if labels is None:
        return np.full(n, -1, dtype=np.int64)
    array = np.asarray(labels)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels: expected {n} integer class indices, got {array.dtype} {array.shape}")
    return array.astype(np.int64)


def _cam_plugins(cams: Sequence[str]) -> dict[str, plugins.CamPlugin | None]:
    """Each CAM name with its registered plugin, None for a built-in method."""
    if not cams or len(set(cams)) != len(cams):
        raise ValueError(f"cams: expected distinct CAM method names, got {list(cams)}")
    chosen: dict[str, plugins.CamPlugin | None] = {}
    for cam in cams:
        plugin = None if cam in registry.CAM_METHODS else plugins.registered_cam(cam)
        if cam not in registry.CAM_METHODS and plugin is None:
            raise ValueError(
                f"cams: {cam!r} is neither a built-in method {list(registry.CAM_METHODS)} "
                "nor registered with camrobust.register_cam"
            )
        chosen[cam] = plugin
    return chosen


def _noise_entries(
    noises: Mapping[str, Sequence[int] | Mapping[str, Any]], noise_plugins: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[int] | Mapping[str, Any]]:
    """The ``noises`` entries as the config's (a severity list or a mapping), names checked."""
    if not noises:
        raise ValueError("noises: expected at least one noise type, e.g. {'gaussian_noise': [1, 3, 5]}")
    for name in noises:
        if name not in registry.NOISES and name not in noise_plugins:
            raise ValueError(
                f"noises: {name!r} is neither a built-in noise {list(registry.NOISES)} nor in noise_plugins"
            )
    clashes = [name for name in noise_plugins if name in registry.NOISES]
    if clashes:
        raise ValueError(f"noise_plugins: {clashes} are built-in names; choose others")
    return {name: entry if isinstance(entry, Mapping) else list(entry) for name, entry in noises.items()}


def _noise_function(name: str, noise_plugins: Mapping[str, Mapping[str, Any]]) -> Callable[..., Any] | None:
    if name not in noise_plugins:
        return None
    function = noise_plugins[name]["function"]
    return function if callable(function) else plugins.load(function, f"noise_plugins.{name}.function")


def _normalisation(preprocessing: ModelCard | Mapping[str, Sequence[float]] | None) -> tuple[list[float], list[float]]:
    from camrobust import models

    if preprocessing is None:
        return list(models.IMAGENET_MEAN), list(models.IMAGENET_STD)
    if isinstance(preprocessing, models.ModelCard):
        return list(preprocessing.mean), list(preprocessing.std)
    return [float(v) for v in preprocessing["mean"]], [float(v) for v in preprocessing["std"]]
