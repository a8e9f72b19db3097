"""Centre head: score, offset and size maps from the search feature map."""
from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CenterHead(nn.Module):
    """Three conv towers (``ctr``, ``offset``, ``size``), parameter names as in the release."""

    BRANCHES = (("ctr", 1), ("offset", 2), ("size", 2))

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
        for name, out in self.BRANCHES:
            for i in range(4):
                self.add_module(f"conv{i + 1}_{name}", _conv_bn_relu(widths[i], widths[i + 1]))
            self.add_module(f"conv5_{name}", nn.Conv2d(widths[4], out, 1))

    def _tower(self, name: str, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"conv{i}_{name}")(x)
        return x

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """feat (B, C, G, G) -> score (B,1,G,G) in [1e-4, 1-1e-4], size (B,2,G,G) idem, offset (B,2,G,G)."""
        score = self._tower("ctr", feat).sigmoid().clamp(1e-4, 1 - 1e-4)
        size = self._tower("size", feat).sigmoid().clamp(1e-4, 1 - 1e-4)
        offset = self._tower("offset", feat)
        return score, size, offset
