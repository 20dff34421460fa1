"""Models: small CNNs learn the shapes sets, determinism, cards, checkpoints, layer lookup."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from camrobust.cams import resolve_layer
from camrobust.datasets import generate_shapes
from camrobust.models import (
    DEFAULT_TARGET_LAYERS,
    SMALL_CNN_MEAN,
    SMALL_CNN_STD,
    CheckpointError,
    ModelCard,
    UnsafeCheckpointError,
    WeightsDownloadError,
    build_model,
    default_preprocessing,
    evaluate_accuracy,
    load_checkpoint,
    load_model,
    to_model_input,
    train_model,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: as fast as two on an idle 2-core machine's small convs, far faster
    when other processes share the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class Payload:
    """A custom class: pickling it makes a checkpoint unsafe to load."""

    def __init__(self) -> None:
        self.note = "arbitrary object"


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["plain", "cluttered"])
@pytest.mark.parametrize("arch", ["small_vgg", "small_resnet"])
def test_small_cnn_reaches_90_percent_held_out(arch: str, variant: str) -> None:
    training = generate_shapes(600, 64, variant, seed=0, split="train")
    evaluation = generate_shapes(300, 64, variant, seed=0, split="eval")
    model = build_model(arch, 6, seed=0)
    metrics = train_model(
        model,
        training.images,
        training.labels,
        epochs=8,
        batch_size=32,
        lr=5e-3,
        seed=0,
        val_fraction=0.1,
        progress=False,
    )
    assert (metrics["n_train"], metrics["n_val"], metrics["epochs"]) == (540, 60, 8)
    assert metrics["val_accuracy"] >= 0.9
    assert not model.training
    accuracy = evaluate_accuracy(model, evaluation.images, evaluation.labels, mean=SMALL_CNN_MEAN, std=SMALL_CNN_STD)
    assert accuracy >= 0.9


@pytest.mark.parametrize("arch", ["small_vgg", "small_resnet"])
def test_same_seed_gives_identical_weights(arch: str) -> None:
    data = generate_shapes(48, 32, "cluttered", seed=1, split="train")

    def trained(seed: int) -> dict[str, torch.Tensor]:
        model = build_model(arch, 6, seed=seed)
        train_model(model, data.images, data.labels, epochs=2, batch_size=16, lr=1e-2, seed=seed, progress=False)
        return model.state_dict()

    first, second, other = trained(0), trained(0), trained(1)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_build_model_seed_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model("small_vgg", 6, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_small_cnn_target_layers_give_quarter_resolution_maps() -> None:
    for arch, channels in [("small_vgg", 64), ("small_resnet", 64)]:
        model = build_model(arch, 6, seed=0).eval()
        layer = resolve_layer(model, DEFAULT_TARGET_LAYERS[arch])
        seen: list[torch.Tensor] = []
        layer.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out))
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 6)
        assert seen[0].shape == (2, channels, 16, 16)
        assert model(torch.zeros(1, 3, 40, 56)).shape == (1, 6)


def test_to_model_input_normalises() -> None:
    images = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    images[1, 2, 3] = (255, 51, 0)
    batch = to_model_input(images, (0.5, 0.2, 0.0), (0.5, 0.1, 1.0), "cpu")
    assert batch.shape == (2, 3, 3, 4) and batch.dtype == torch.float32
    assert batch[1, :, 2, 3].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert batch[0, :, 0, 0].tolist() == pytest.approx([-1.0, -2.0, 0.0])
    assert torch.equal(
        to_model_input(torch.from_numpy(images), (0.5,) * 3, (0.5,) * 3),
        to_model_input(images, (0.5,) * 3, (0.5,) * 3),
    )
    with pytest.raises(ValueError, match=r"images: expected uint8 \(N,H,W,3\), got float32"):
        to_model_input(images.astype(np.float32), (0.5,) * 3, (0.5,) * 3)


def test_model_card_round_trip(tmp_path: Path) -> None:
    card = ModelCard(
        arch="small_vgg",
        source="trained",
        num_classes=6,
        target_layer="features.13",
        input_size=64,
        mean=SMALL_CNN_MEAN,
        std=SMALL_CNN_STD,
        class_names=["circle", "square", "triangle", "cross", "ring", "diamond"],
        accuracy={"val": 0.99, "eval": 0.975},
        extra={"training": {"epochs": 6}},
    )
    card.to_json(tmp_path / "card.json")
    assert ModelCard.from_json(tmp_path / "card.json") == card
    with pytest.raises(ValueError, match="source: 'hub' unknown; allowed: trained, torchvision, checkpoint"):
        ModelCard("small_vgg", "hub", 6, "features.13", 64, SMALL_CNN_MEAN, SMALL_CNN_STD, [])


def test_preprocessing_follows_the_weights() -> None:
    assert default_preprocessing("small_resnet", image_size=48).input_size == 48
    vit = default_preprocessing("vit_b_16", "IMAGENET1K_SWAG_E2E_V1")
    assert (vit.input_size, vit.mean, vit.std) == (384, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    resnet = default_preprocessing("resnet50", "DEFAULT")
    assert (resnet.input_size, resnet.mean) == (224, (0.485, 0.456, 0.406))


def test_resolve_layer_error_lists_valid_paths() -> None:
    small = build_model("small_vgg", 6, seed=0)
    assert resolve_layer(small, "features.13") is small.features[13]
    with pytest.raises(
        ValueError,
        match=r"'features\.99'.*valid paths: features, features\.0, .*features\.13, pool, classifier",
    ):
        resolve_layer(small, "features.99")
    resnet = build_model("resnet18", 10)
    with pytest.raises(ValueError, match=r"did you mean layer4, layer3, layer2\?") as error:
        resolve_layer(resnet, "layer5")
    message = str(error.value)
    assert "valid paths: conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool, fc;" in message
    assert "last stage: " in message and "layer4.1.conv2, layer4.1.bn2;" in message
    assert "use model.named_modules() to see all" in message


def test_unknown_arch_lists_allowed() -> None:
    with pytest.raises(ValueError, match="arch: 'alexnet' unknown; allowed: small_vgg, small_resnet, resnet18"):
        build_model("alexnet", 10)


def test_unsafe_checkpoint_is_refused(tmp_path: Path) -> None:
    model = build_model("small_vgg", 6, seed=0)
    path = tmp_path / "unsafe.pt"
    torch.save({"state_dict": model.state_dict(), "payload": Payload()}, path)
    with pytest.raises(UnsafeCheckpointError, match=rf"checkpoint {path} holds pickled objects"):
        load_checkpoint(path, "small_vgg", 6)


@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:FutureWarning")
def test_state_dict_and_torchscript_checkpoints_reproduce_outputs(tmp_path: Path) -> None:
    model = build_model("small_resnet", 6, seed=4).eval()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model(x)
        torch.save(model.state_dict(), tmp_path / "plain.pt")
        torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "nested.pt")
        torch.jit.save(torch.jit.script(model), tmp_path / "scripted.pt")
        for name in ("plain.pt", "nested.pt", "scripted.pt"):
            loaded = load_checkpoint(tmp_path / name, "small_resnet", 6)
            assert isinstance(loaded, torch.nn.Module) and not loaded.training
            assert torch.equal(loaded(x), reference), name
        scripted = load_checkpoint(tmp_path / "scripted.pt", None, 6)
        assert isinstance(scripted, torch.jit.ScriptModule)
        assert torch.equal(scripted(x), reference)
    with pytest.raises(CheckpointError, match="does not fit arch 'small_vgg'"):
        load_checkpoint(tmp_path / "plain.pt", "small_vgg", 6)


def test_load_model_from_card(tmp_path: Path) -> None:
    model = build_model("small_vgg", 4, seed=2).eval()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    card = ModelCard("small_vgg", "trained", 4, "features.13", 32, SMALL_CNN_MEAN, SMALL_CNN_STD, list("abcd"))
    loaded = load_model(card, tmp_path / "weights.pt", "cpu")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


@pytest.fixture
def offline_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TORCH_HOME in tmp_path and no network: every TCP connection is refused at once."""

    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise OSError("network unreachable (test)")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tmp_path


def test_pretrained_weights_offline_name_the_file(offline_torch_home: Path) -> None:
    target = offline_torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(WeightsDownloadError, match=rf"place it at {target}"):
        build_model("resnet18", 1000, weights="DEFAULT")
    with pytest.raises(ValueError, match="weights: 'IMAGENET' unknown for resnet18; allowed: DEFAULT, IMAGENET1K_V1"):
        build_model("resnet18", 1000, weights="IMAGENET")


def test_cached_weights_load_without_network_and_head_is_replaced(offline_torch_home: Path) -> None:
    source = build_model("resnet18", 1000, seed=0)
    target = offline_torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(source.state_dict(), target)
    pretrained = build_model("resnet18", 1000, weights="DEFAULT")
    assert torch.equal(pretrained.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    finetune = build_model("resnet18", 10, weights="DEFAULT", seed=0)
    assert finetune.fc.out_features == 10
    assert torch.equal(finetune.layer1[0].conv1.weight, source.layer1[0].conv1.weight)
