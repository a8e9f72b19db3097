"""Procedural top-down background textures (fields, roads, towns)."""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np


# --------------------------------------------------------------------------- backgrounds


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cells: tuple[int, ...] = (64, 16, 4)
) -> np.ndarray:
    """Value noise in [0, 1] (float32): random grids of the given cell sizes, upsampled and summed."""
    total = np.zeros((height, width), dtype=np.float32)
    weight_sum = 0.0
    for level, cell in enumerate(cells):
        gh, gw = height // cell + 2, width // cell + 2
        grid = rng.random((gh, gw), dtype=np.float32)
        up = cv2.resize(grid, (gw * cell, gh * cell), interpolation=cv2.INTER_CUBIC)[:height, :width]
        weight = 0.5**level
        total += weight * up
        weight_sum += weight
    return np.clip(total / weight_sum, 0.0, 1.0)


def _split_plots(
    rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int, min_side: int
) -> list[tuple[int, int, int, int]]:
    stack, plots = [(x0, y0, x1, y1)], []
    while stack:
        a, b, c, d = stack.pop()
        w, h = c - a, d - b
        if max(w, h) < 2 * min_side or (max(w, h) < 4 * min_side and rng.random() < 0.3):
            plots.append((a, b, c, d))
            continue
        if w >= h:
            cut = a + int(w * rng.uniform(0.3, 0.7))
            stack += [(a, b, cut, d), (cut, b, c, d)]
        else:
            cut = b + int(h * rng.uniform(0.3, 0.7))
            stack += [(a, b, c, cut), (a, cut, c, d)]
    return plots


def _texture_fields(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    palette = np.array(
        [(86, 125, 50), (120, 150, 60), (165, 152, 92), (112, 90, 62), (140, 172, 82), (192, 176, 112), (70, 100, 45)],
        dtype=np.float32,
    )
    img = np.zeros((h, w, 3), dtype=np.float32)
    for a, b, c, d in _split_plots(rng, 0, 0, w, h, max(8, short // 6)):
        colour = palette[rng.integers(len(palette))] * rng.uniform(0.9, 1.1)
        period = rng.uniform(3.0, 8.0)
        if rng.random() < 0.5:
            stripes = 1.0 + 0.08 * np.sin(2.0 * math.pi * np.arange(c - a) / period)[None, :, None]
        else:
            stripes = 1.0 + 0.08 * np.sin(2.0 * math.pi * np.arange(d - b) / period)[:, None, None]
        img[b:d, a:c] = colour * stripes
        cv2.rectangle(img, (a, b), (c - 1, d - 1), (58, 78, 40), max(1, short // 180))
    return img


def _tree_clumps(rng: np.random.Generator, img: np.ndarray, count: int, short: int) -> None:
    h, w = img.shape[:2]
    for _ in range(count):
        cx, cy = int(rng.integers(w)), int(rng.integers(h))
        for _ in range(int(rng.integers(2, 6))):
            r = max(2, int(short * rng.uniform(0.012, 0.035)))
            jx, jy = (rng.normal(0.0, 1.0, 2) * r).astype(int)
            shade = float(rng.uniform(0.75, 1.15))
            cv2.circle(img, (cx + int(jx), cy + int(jy)), r, (34 * shade, 72 * shade, 34 * shade), -1, cv2.LINE_AA)


def _texture_roads(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = (92, 132, 62)
    road_w = max(4, int(short * rng.uniform(0.04, 0.07)))
    for _ in range(int(rng.integers(2, 4))):
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle), math.sin(angle)
        far = 2 * (w + h)
        p1 = (int(px - far * dx), int(py - far * dy))
        p2 = (int(px + far * dx), int(py + far * dy))
        cv2.line(img, p1, p2, (96, 96, 102), road_w, cv2.LINE_AA)
        dash = max(4, road_w)
        for k in range(-far // dash, far // dash, 2):
            a = (int(px + k * dash * dx), int(py + k * dash * dy))
            b = (int(px + (k + 1) * dash * dx), int(py + (k + 1) * dash * dy))
            cv2.line(img, a, b, (225, 225, 215), max(1, road_w // 10), cv2.LINE_AA)
    _tree_clumps(rng, img, int(rng.integers(8, 25)), short)
    return img


def _texture_urban(rng: np.random.Generator, h: int, w: int, short: int) -> np.ndarray:
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = (118, 118, 122)
    roofs = np.array(
        [(150, 62, 50), (172, 172, 172), (92, 92, 102), (202, 192, 172), (122, 82, 62), (70, 80, 95)], dtype=np.float32
    )
    block = max(16, int(short * rng.uniform(0.22, 0.32)))
    street = max(3, int(short * 0.05))
    for by in range(0, h, block + street):
        for bx in range(0, w, block + street):
            for a, b, c, d in _split_plots(rng, bx, by, bx + block, by + block, max(5, block // 3)):
                if rng.random() < 0.15:
                    continue  # courtyard
                colour = roofs[rng.integers(len(roofs))] * rng.uniform(0.9, 1.1)
                inset = max(1, (c - a) // 12)
                cv2.rectangle(img, (a + inset, b + inset), (c - 1 - inset, d - 1 - inset), colour.tolist(), -1)
                ridge = (colour * 0.8).tolist()
                cv2.line(img, (a + inset, (b + d) // 2), (c - 1 - inset, (b + d) // 2), ridge, 1)
    _tree_clumps(rng, img, int(rng.integers(3, 10)), short)
    return img


def make_background(rng: np.random.Generator, kind: str, height: int, width: int, short: int) -> np.ndarray:
    """A top-down RGB uint8 texture ``(height, width, 3)`` of the given kind."""
    builders: dict[str, Callable[[np.random.Generator, int, int, int], np.ndarray]] = {
        "fields": _texture_fields,
        "roads": _texture_roads,
        "urban": _texture_urban,
    }
    if kind not in builders:
        raise ValueError(f"unknown background {kind!r}; allowed: {list(builders)}")
    base = builders[kind](rng, height, width, short)
    noise = fractal_noise(rng, height, width, (max(8, short // 5), max(4, short // 24), 2))
    shaded = base * (0.78 + 0.44 * noise)[:, :, None]
    return np.clip(shaded + 0.5, 0, 255).astype(np.uint8)
