"""Random-weight models of every supported torchvision architecture, for CPU tests."""

from __future__ import annotations

import torch
from torch import nn

from camrobust.models import build_model


def zoo_model(arch: str, image_size: int) -> nn.Module:
    """build_model(arch, 10, seed=0) in eval mode, with two changes that give random weights
    informative maps. ViT (built for ``image_size``) gets a seeded random head: torchvision
    zero-initialises it, so every logit is 0 and nothing has a gradient. BatchNorm statistics come
    from 4 random images: with torchvision's initial ones efficientnet_b0's last stage outputs about
    1e-13, where the 1e-7 of the min-max, not the features, would shape the maps."""
    model = build_model(arch, 10, seed=0, image_size=image_size if arch == "vit_b_16" else None).eval()
    if arch == "vit_b_16":
        head = model.get_submodule("heads.head")
        assert isinstance(head, nn.Linear)
        nn.init.normal_(head.weight, std=0.02, generator=torch.Generator().manual_seed(0))
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: the statistics of exactly these images
        norm.train()
    if norms:
        with torch.no_grad():
            model(torch.randn(4, 3, image_size, image_size, generator=torch.Generator().manual_seed(1)))
    return model.eval()
