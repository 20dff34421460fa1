"""Noisy copies of clean images at every severity of one noise type, chunk by chunk.

A model-free noise (built in, or a noise plugin's function) perturbs each image on its own; an
attack needs the model and perturbs one model batch at a time. Either way image i's randomness
is keyed by (namespace, noise, severity, image id, seed), so the noisy images do not depend on
the chunk size or on which images share a chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from camrobust import plugins
from camrobust.core.model import ModelInput
from camrobust.io.chunks import CHUNK_SIZE, image_chunks

if TYPE_CHECKING:
    import torch
    import zarr


@dataclass(frozen=True)
class NoiseSetting:
    """One noise type as a job applies it: its ``name``, the ``severities`` (1-5), the
    per-severity ``params`` (None: the built-in severity table), and the ``seed`` and
    ``namespace`` (the dataset name in the workflow) that key each image's randomness."""

    name: str
    severities: Sequence[int]
    params: Sequence[Any] | None
    seed: int
    namespace: str

    def parameter(self, severity: int) -> Any:
        """The parameter of ``severity`` (None: the built-in table's)."""
        return None if self.params is None else self.params[severity - 1]


def noisy_chunks(
    images: zarr.Array | np.ndarray,
    ids: Sequence[str],
    noise: NoiseSetting,
    *,
    chunk_size: int = CHUNK_SIZE,
    function: Callable[..., Any] | None = None,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Noisy copies (n, S, H, W, 3) uint8 of consecutive chunks of clean images (N, H, W, 3), at
    every severity of a model-free noise: built in, or the noise plugin ``function`` (which
    needs ``noise.params``)."""
    from camrobust import noise as noises

    if function is not None and noise.params is None:
        raise ValueError(f"noise_plugins.{noise.name}: a noise plugin needs its per-severity params")

    def noisy_copy(chunk: np.ndarray, chunk_ids: list[str], severity: int) -> np.ndarray:
        parameter = noise.parameter(severity)
        if function is None:
            return noises.perturb(
                chunk, noise.name, severity, noise.seed, chunk_ids, namespace=noise.namespace, params=parameter
            )
        return plugins.perturb(
            function, chunk, noise.name, severity, parameter, noise.seed, chunk_ids, namespace=noise.namespace
        )

    for rows in tqdm(image_chunks(len(ids), chunk_size), desc=noise.name, unit="chunk", disable=not progress):
        chunk, chunk_ids = np.asarray(images[rows]), list(ids[rows])
        yield np.stack([noisy_copy(chunk, chunk_ids, severity) for severity in noise.severities], 1)


def attack_chunks(
    model: torch.nn.Module,
    images: zarr.Array | np.ndarray,
    ids: Sequence[str],
    noise: NoiseSetting,
    *,
    model_input: ModelInput,
    progress: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Adversarial copies (n, S, H, W, 3) uint8 of consecutive chunks of ``model_input.batch_size``
    clean images, at every severity of an attack, with the clean and adversarial predictions (n, S)."""
    from camrobust import noise as noises

    batch_size = model_input.batch_size
    for rows in tqdm(image_chunks(len(ids), batch_size), desc=noise.name, unit="batch", disable=not progress):
        chunk, chunk_ids = np.asarray(images[rows]), list(ids[rows])
        results = [
            noises.attack(
                model,
                chunk,
                noise.name,
                severity,
                noise.seed,
                chunk_ids,
                mean=model_input.mean,
                std=model_input.std,
                namespace=noise.namespace,
                params=noise.parameter(severity),
                batch_size=batch_size,
                device=model_input.device,
            )
            for severity in noise.severities
        ]
        yield (
            np.stack([result.images for result in results], 1),
            np.stack([result.clean_pred for result in results], 1),
            np.stack([result.adv_pred for result in results], 1),
        )
