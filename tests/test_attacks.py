"""FGSM / PGD on a small seeded CNN trained to tell images apart by their dominant colour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from camrobust.noise import NOISES, AttackResult, attack, perturb, success_rate

torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SIZE = 16


def colour_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey-ish noisy images whose class (0 red, 1 green, 2 blue) is the slightly raised channel."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = 0.5 + 0.04 * rng.standard_normal((n, SIZE, SIZE, 3))
    x[np.arange(n), :, :, labels] += rng.uniform(0.03, 0.08, n)[:, None, None]
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8), labels


def normalise(images: np.ndarray) -> torch.Tensor:
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )
    images, labels = colour_images(256, seed=0)
    inputs, targets = normalise(images), torch.as_tensor(labels)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    for _ in range(8):
        for batch in torch.randperm(len(inputs), generator=generator).split(32):
            optimiser.zero_grad()
            F.cross_entropy(net(inputs[batch]), targets[batch]).backward()
            optimiser.step()
    net.eval()
    test_images, test_labels = colour_images(200, seed=1)
    with torch.no_grad():
        accuracy = (net(normalise(test_images)).argmax(1).numpy() == test_labels).mean()
    assert accuracy > 0.9, f"the test CNN did not learn the colour task (accuracy {accuracy})"
    net.zero_grad(set_to_none=True)
    return net


@pytest.fixture(scope="module")
def clean() -> tuple[np.ndarray, np.ndarray, list[str]]:
    images, labels = colour_images(24, seed=2)
    return images, labels, [f"{i:06d}" for i in range(len(images))]


def run(model: nn.Module, images: np.ndarray, noise: str, severity: int, ids: list[str], **kwargs) -> AttackResult:
    return attack(model, images, noise, severity, 7, ids, mean=MEAN, std=STD, **kwargs)


def clean_class_loss(model: nn.Module, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Per-image cross-entropy of ``classes``, in float64 (a confident model's loss is tiny)."""
    with torch.no_grad():
        logits = model(normalise(images)).double()
    return F.cross_entropy(logits, torch.as_tensor(classes), reduction="none").numpy()


@pytest.mark.parametrize("noise", ["fgsm", "pgd"])
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_attack_raises_the_loss_of_the_clean_class(model, clean, noise: str, severity: int) -> None:
    images, _, ids = clean
    result = run(model, images, noise, severity, ids)
    before = clean_class_loss(model, images, result.clean_pred)
    after = clean_class_loss(model, result.images, result.clean_pred)
    assert (after > before).mean() >= 0.9
    assert after.mean() > before.mean() + (1.0 if severity == 5 else 0.0)


def test_predictions_are_the_models_argmax(model, clean) -> None:
    images, _, ids = clean
    result = run(model, images, "pgd", 3, ids)
    with torch.no_grad():
        np.testing.assert_array_equal(result.clean_pred, model(normalise(images)).argmax(1).numpy())
        np.testing.assert_array_equal(result.adv_pred, model(normalise(result.images)).argmax(1).numpy())
    assert result.images.dtype == np.uint8 and result.images.shape == images.shape
    assert result.clean_pred.dtype == np.int64 and result.adv_pred.dtype == np.int64


def test_pgd_at_large_eps_changes_most_predictions(model, clean) -> None:
    images, _, ids = clean
    pgd = run(model, images, "pgd", 5, ids)
    assert success_rate(pgd) >= 0.8
    assert success_rate(pgd) >= success_rate(run(model, images, "fgsm", 1, ids))


@pytest.mark.parametrize("noise", ["fgsm", "pgd"])
def test_perturbation_stays_in_the_eps_ball(model, clean, noise: str) -> None:
    images, _, ids = clean
    for severity in range(1, 6):
        eps255 = NOISES[noise].params[severity - 1] * 255
        result = run(model, images, noise, severity, ids)
        distance = np.abs(result.images.astype(np.int16) - images.astype(np.int16))
        assert distance.max() <= eps255 + 0.5
        if noise == "fgsm":  # one full step: every value with a non-zero gradient moves by eps
            assert np.median(distance) == pytest.approx(eps255)


def test_fgsm_is_one_signed_gradient_step(model, clean) -> None:
    images, _, ids = clean
    eps = 4 / 255
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255
    x.requires_grad_(True)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    logits = model((x - mean) / std)
    F.cross_entropy(logits, logits.argmax(1), reduction="sum").backward()
    expected = torch.round((x + eps * x.grad.sign()).clamp(0, 1) * 255).to(torch.uint8)
    model.zero_grad(set_to_none=True)
    result = run(model, images, "fgsm", 3, ids)
    np.testing.assert_array_equal(result.images, expected.permute(0, 2, 3, 1).numpy())


def test_targets_choose_the_class_to_move_away_from(model, clean) -> None:
    images, labels, ids = clean
    default = run(model, images, "pgd", 3, ids)
    given = run(model, images, "pgd", 3, ids, targets=default.clean_pred)
    np.testing.assert_array_equal(given.images, default.images)
    other = (default.clean_pred + 1) % 3
    away = run(model, images, "fgsm", 4, ids, targets=other)
    assert (clean_class_loss(model, away.images, other) > clean_class_loss(model, images, other)).mean() >= 0.9
    with pytest.raises(ValueError, match="targets"):
        run(model, images, "pgd", 3, ids, targets=labels[:3])


def test_model_is_left_untouched(model, clean) -> None:
    images, _, ids = clean
    state = {name: value.clone() for name, value in model.state_dict().items()}
    model.train()
    try:
        trained_mode = run(model, images, "pgd", 3, ids)
        assert model.training
    finally:
        model.eval()
    assert all(parameter.grad is None for parameter in model.parameters())
    assert all(parameter.requires_grad for parameter in model.parameters())
    assert all(torch.equal(value, state[name]) for name, value in model.state_dict().items())
    np.testing.assert_array_equal(trained_mode.images, run(model, images, "pgd", 3, ids).images)


def test_pgd_output_independent_of_batch_size_and_job_split(model, clean) -> None:
    images, _, ids = clean
    images, ids = images[:9], ids[:9]
    whole = run(model, images, "pgd", 4, ids, batch_size=7)
    single = run(model, images, "pgd", 4, ids, batch_size=1)
    first, rest = run(model, images[:4], "pgd", 4, ids[:4]), run(model, images[4:], "pgd", 4, ids[4:])
    np.testing.assert_array_equal(whole.images, single.images)
    np.testing.assert_array_equal(whole.images, np.concatenate([first.images, rest.images]))
    np.testing.assert_array_equal(whole.adv_pred, np.concatenate([first.adv_pred, rest.adv_pred]))
    reseeded = attack(model, images, "pgd", 4, 8, ids, mean=MEAN, std=STD)
    assert not np.array_equal(whole.images, reseeded.images)  # the random start follows the seed


def test_success_rate_counts_changed_predictions() -> None:
    images = np.zeros((4, 2, 2, 3), np.uint8)
    result = AttackResult(images, np.array([0, 1, 2, 3]), np.array([0, 2, 2, 0]))
    assert success_rate(result) == 0.5
    with pytest.raises(ValueError, match="no images"):
        success_rate(AttackResult(images[:0], np.array([], np.int64), np.array([], np.int64)))


def test_attack_names_and_bad_input(model, clean) -> None:
    images, _, ids = clean
    with pytest.raises(ValueError, match=r"'gaussian_noise' needs no model.*perturb"):
        run(model, images, "gaussian_noise", 1, ids)
    with pytest.raises(ValueError, match=r"unknown noise 'cw'.*fgsm.*pgd"):
        run(model, images, "cw", 1, ids)
    for severity in (0, 6):
        with pytest.raises(ValueError, match=rf"pgd.*severity {severity}.*1\.\.5"):
            run(model, images, "pgd", severity, ids)
    with pytest.raises(ValueError, match=r"images.*uint8"):
        run(model, images.astype(np.float32), "fgsm", 1, ids)
    with pytest.raises(ValueError, match=r"mean/std"):
        attack(model, images, "fgsm", 1, 0, ids, mean=(0.5,), std=STD)
    with pytest.raises(ValueError, match=r"perturb\(\) takes"):
        perturb(images, "pgd", 1, 0, ids)
