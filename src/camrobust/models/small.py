"""The two small CNNs the workflow trains by default (offline, in minutes on a CPU)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
    ]


class SmallVGG(nn.Module):
    """VGG-like: conv-bn-relu blocks (16, 32 channels, each followed by 2x2 max-pool), then two
    64-channel conv-bn-relu layers at 1/4 resolution ("features.13" = last ReLU, the CAM target),
    global average pooling and one linear layer. Any input size (adaptive pooling)."""

    def __init__(self, num_classes: int, widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        first, second, third = widths
        self.features = nn.Sequential(
            *_conv_bn_relu(3, first),
            nn.MaxPool2d(2),
            *_conv_bn_relu(first, second),
            nn.MaxPool2d(2),
            *_conv_bn_relu(second, third),
            *_conv_bn_relu(third, third),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(third, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class BasicBlock(nn.Module):
    """Residual block: relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)), shortcut = 1x1 conv-bn
    when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=False)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet-like: a stride-2 conv stem (16 channels) and 2x2 max-pool down to 1/4 resolution,
    three one-block residual stages of 16, 32, 64 channels ("layer3" output, 16x16 at 64 px, is the
    CAM target), global average pooling and one linear layer. Any input size (adaptive pooling)."""

    def __init__(self, num_classes: int, widths: Sequence[int] = (16, 32, 64)) -> None:
        super().__init__()
        first, second, third = widths
        self.stem = nn.Sequential(
            nn.Conv2d(3, first, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
        )
        self.layer1 = BasicBlock(first, first, stride=1)
        self.layer2 = BasicBlock(first, second, stride=1)
        self.layer3 = BasicBlock(second, third, stride=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(third, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))
