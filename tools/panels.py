"""Labelled image panels laid out in rows, for the figures the tools make."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GAP = 6


def labelled(panel, label):
    """`panel` (uint8 `[H, W, 3]`) under a line of dark text."""
    font = ImageFont.load_default()
    height = font.getbbox("Agjp()")[3] + 4
    strip = Image.new("RGB", (panel.shape[1], height), "white")
    ImageDraw.Draw(strip).text((2, 2), label, fill="black", font=font)
    return np.concatenate([np.asarray(strip), panel], axis=0)


def row(panels):
    """`panels` side by side, top-aligned, `GAP` white pixels apart."""
    height = max(p.shape[0] for p in panels)
    padded = [np.pad(p, [(0, height - p.shape[0]), (0, GAP), (0, 0)], constant_values=255) for p in panels]
    return np.concatenate(padded, axis=1)[:, :-GAP]


def stacked(rows):
    """`rows` one above another, left-aligned, `GAP` white pixels apart."""
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, [(0, GAP), (0, width - r.shape[1]), (0, 0)], constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)[:-GAP]
