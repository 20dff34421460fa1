"""AblationCAM on the network tail (camrobust.netsplit) against the whole-model fallback, and
ScoreCAM's one forward per distinct mask against one forward per channel, in float64 on tiny nets."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camrobust import netsplit
from camrobust.cams import capture, model_cams, postprocess
from tests.gradcam_oracle import ablation_tolerance, scorecam_tolerance
from tests.rounding import FORWARD_ERROR

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class TinyResidual(nn.Module):
    """conv -> relu -> h; conv(h) + h -> relu -> mean -> linear: the tail after conv2 reads h."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(x).relu()
        return self.fc((self.conv2(h) + h).relu().mean((2, 3)))


class Untraceable(TinyResidual):
    """The same network behind a data-dependent branch, which torch.fx cannot trace."""

    def forward(self, x: Tensor) -> Tensor:
        if not torch.isfinite(x).all():
            raise ValueError("non-finite input")
        return super().forward(x)


def twins() -> tuple[nn.Module, nn.Module, Tensor]:
    torch.manual_seed(0)
    model = TinyResidual().double().eval()
    untraceable = Untraceable().double().eval()
    untraceable.load_state_dict(model.state_dict())
    return model, untraceable, torch.randn(3, 3, 12, 12, generator=torch.Generator().manual_seed(1)).double()


def test_split_runs_the_models_own_operations() -> None:
    model, _, x = twins()
    split = netsplit.split_at(model, model.conv2)
    for i in range(len(x)):
        out, tail = split.run(x[i : i + 1])
        assert torch.equal(out, model.conv2(model.conv1(x[i : i + 1]).relu()))
        assert torch.equal(tail(out), model(x[i : i + 1]))  # same ops, same order, same shapes
        assert tail(out.expand(5, -1, -1, -1)).shape == (5, 4)  # the context repeats with the batch


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_unsplittable_models_say_why() -> None:
    model, untraceable, _ = twins()
    with pytest.raises(netsplit.Unsplittable, match="torch.fx cannot trace it"):
        netsplit.split_at(untraceable, untraceable.conv2)
    with pytest.raises(netsplit.Unsplittable, match="TorchScript"):
        netsplit.split_at(torch.jit.script(model), model.conv2)
    with pytest.raises(netsplit.Unsplittable, match="calls the target layer 0 times"):
        netsplit.split_at(model, nn.ReLU())


def test_tail_equals_whole_model_fallback(caplog: pytest.LogCaptureFixture) -> None:
    """The tail and the fallback compute every ablated score by the model's operations, on the
    clean layer output or on its recomputation in a batch: both within FORWARD_ERROR of the exact
    score, so 2 FORWARD_ERROR apart, which ablation_tolerance carries to the maps."""
    model, untraceable, x = twins()
    caplog.set_level(logging.INFO, logger="camrobust")
    tail = model_cams(model, "conv2", x, None, ["ablationcam"], batch_size=4)["ablationcam"]
    assert not caplog.records
    whole = model_cams(untraceable, "conv2", x, None, ["ablationcam"], batch_size=4)["ablationcam"]
    model_cams(untraceable, "conv2", x, None, ["ablationcam"], batch_size=4)
    (record,) = caplog.records  # one line per model
    assert record.name == "camrobust" and "cannot be split" in record.getMessage()
    assert "torch.fx cannot trace it" in record.getMessage()

    cap = capture(model, "conv2", x)
    y = cap.logits.gather(1, cap.targets[:, None])
    ablated = []
    with torch.no_grad():
        for c in range(6):  # channel c of conv2's output set to 0 (the layer's min is below 0: min - 1e7)
            out = model.conv2(model.conv1(x).relu())
            lo = out.flatten(1).amin(1)
            out[:, c] = torch.where(lo == 0, 0.0, lo - 1e7)[:, None, None]
            h = model.conv1(x).relu()
            ablated.append(model.fc((out + h).relu().mean((2, 3))).gather(1, cap.targets[:, None]))
    weights = ((y - torch.cat(ablated, 1)) / y).numpy()
    tol = ablation_tolerance(weights, cap.activations.numpy(), 2 * FORWARD_ERROR)
    assert ((tail - whole).abs().amax((1, 2)).numpy() <= tol).all()
    assert (tail.amax((1, 2)) > 0.99).all()  # not flat


def masks_net() -> nn.Module:
    """conv (3 -> 6 channels) + relu at the target, then pooling and a linear layer. Channel 2
    copies channel 0, channels 3 and 4 are dead (weights 0, bias -1 -> relu 0), channel 5 is
    constant 0.5: four distinct maps A_c, three distinct masks (0 for the constant ones)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 6, 3, padding=1)
    with torch.no_grad():
        conv.weight[2], conv.bias[2] = conv.weight[0], conv.bias[0]
        conv.weight[3:].zero_()
        conv.bias[3:5] = -1.0
        conv.bias[5] = 0.5
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).double().eval()


def test_scorecam_one_forward_per_distinct_mask() -> None:
    model = masks_net()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)).double()
    rows: list[int] = []
    handle = model[0].register_forward_hook(lambda _m, args, _o: rows.append(len(args[0])))
    ours = model_cams(model, "1", x, None, ["scorecam"], batch_size=2)["scorecam"]
    handle.remove()

    cap = capture(model, "1", x)
    up = F.interpolate(cap.activations, size=(8, 8), mode="bilinear", align_corners=True)
    lo, hi = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
    masks = (up - lo) / (hi - lo + 1e-8)
    with torch.no_grad():  # one forward per channel, as pytorch-grad-cam
        scores = torch.stack([model(x[n : n + 1] * masks[n, :, None]).squeeze(1) for n in range(2)])
        scores = scores.gather(2, cap.targets[:, None, None].expand(-1, 6, 1)).squeeze(2)
    distinct = [len(torch.unique(masks[n].flatten(1), dim=0)) for n in range(2)]
    assert distinct == [3, 3] and sum(rows) == 2 + sum(distinct)  # clean forwards + one per mask
    raw = (scores.softmax(1)[:, :, None, None] * cap.activations).sum(1)
    expected = postprocess(raw, (8, 8))
    # the same masks; the scores' forwards batch them differently: FORWARD_ERROR each side
    tol = scorecam_tolerance(scores.numpy(), cap.activations.numpy(), 2 * FORWARD_ERROR)
    assert ((ours - expected).abs().amax((1, 2)).numpy() <= tol).all()
    assert np.all(ours.amax((1, 2)).numpy() > 0.99)
