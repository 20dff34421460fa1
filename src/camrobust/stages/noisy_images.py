"""Noisy images: every severity of one noise type in one store (rules/noisy_images.smk).

A model-free noise (built in or a noise plugin) perturbs the clean images once per dataset; an
attack perturbs them per model and also stores the predictions it causes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from camrobust import plugins
from camrobust.core.model import ModelInput
from camrobust.core.noisy import NoiseSetting, attack_chunks, noisy_chunks
from camrobust.io.chunks import CHUNK_SIZE
from camrobust.io.images import NOISY_DIMS, image_ids
from camrobust.io.store import open_store, store_writer
from camrobust.stages.get_model import load_model

PathLike = str | os.PathLike[str]


def perturb_images(
    *,
    clean_store: PathLike,
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    seed: int,
    namespace: str,
    out: PathLike,
    chunk_size: int = CHUNK_SIZE,
    plugin: Mapping[str, Any] | None = None,
) -> None:
    """Every severity of one model-free noise type, ``chunk_size`` images at a time. ``plugin``:
    the noise's ``noise_plugins`` entry, for a noise not built in (``params`` are then its
    per-severity parameters)."""
    function = None if plugin is None else plugins.load(plugin["function"], f"noise_plugins.{noise_name}.function")
    noise = NoiseSetting(noise_name, severities, params, seed, namespace)
    clean = open_store(clean_store)
    n, h, w, _ = clean["images"].shape
    with store_writer(out, {"noise": noise_name, "namespace": namespace, "seed": seed}) as writer:
        stored = writer.stream("images", (n, len(severities), h, w, 3), "uint8", NOISY_DIMS)
        for noisy in noisy_chunks(clean["images"], image_ids(clean), noise, chunk_size=chunk_size, function=function):
            stored.append(noisy)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))


def attack_images(
    *,
    clean_store: PathLike,
    card_path: PathLike,
    weights_path: PathLike,
    noise_name: str,
    severities: Sequence[int],
    params: Sequence[float] | None,
    seed: int,
    namespace: str,
    batch_size: int,
    device: str,
    out: PathLike,
) -> None:
    """Adversarial images of an attack against one model and the predictions they cause, one
    model batch of ``batch_size`` images at a time; the store's attrs keep the success rate per
    severity."""
    clean = open_store(clean_store)
    model, card = load_model(card_path, weights_path, device)
    noise = NoiseSetting(noise_name, severities, params, seed, namespace)
    model_input = ModelInput.of_card(card, device=device, batch_size=batch_size)
    n, h, w, _ = clean["images"].shape
    n_changed = np.zeros(len(severities), dtype=np.int64)
    with store_writer(out, {"noise": noise_name, "namespace": namespace, "seed": seed}) as writer:
        stored = writer.stream("images", (n, len(severities), h, w, 3), "uint8", NOISY_DIMS)
        clean_pred = writer.stream("clean_pred", (n, len(severities)), "int64", ("image", "severity"))
        adv_pred = writer.stream("adv_pred", (n, len(severities)), "int64", ("image", "severity"))
        for images, clean_chunk, adv_chunk in attack_chunks(
            model, clean["images"], image_ids(clean), noise, model_input=model_input
        ):
            stored.append(images)
            clean_pred.append(clean_chunk)
            adv_pred.append(adv_chunk)
            n_changed += (adv_chunk != clean_chunk).sum(0)
        writer.add("severity", np.asarray(severities, dtype=np.int64), ("severity",))
        writer.group.attrs["success_rate"] = {
            str(severity): float(changed / n) if n else float("nan") for severity, changed in zip(severities, n_changed)
        }
