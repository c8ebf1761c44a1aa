"""What srim_sample writes beside the samples: grey and alpha channels, std maps, contact sheets.

Each works on bands of rows, as `tiling.super_resolve_bands` hands them out, so memory holds
one band, not K whole 4x images; a band's result equals those rows of the whole image's.
"""

import math

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from srim_tf.data.resize import bicubic_upsample
from srim_tf.model.generator import SCALE
from srim_tf.settings import STD_WHITE  # the std map's scale


def to_grey(samples):
    """uint8 `[..., 3]` -> `[..., 1]` by BT.601 luma weights, for grey inputs.

    Each pixel is computed on its own (no matrix product, whose sums may depend on how many
    pixels are converted at once), so bands give the rows of the whole image exactly.
    """
    grey = np.empty(samples.shape[:-1] + (1,), np.uint8)
    flat, out = samples.reshape(-1, 3), grey.reshape(-1)
    step = BAND_ROWS * 4096  # pixels converted to float at once
    for start in range(0, len(flat), step):
        rgb = flat[start:start + step].astype(np.float32)
        out[start:start + step] = np.round(
            rgb[:, 0] * np.float32(0.299) + rgb[:, 1] * np.float32(0.587) + rgb[:, 2] * np.float32(0.114))
    return grey


# LR rows of context a band of 4x bicubic output needs on each side: an output row reads
# the 4 input rows around (y + 0.5) / 4 - 0.5, at most 2 above and 2 below its own.
_BICUBIC_CONTEXT = 2


def upscale_alpha(alpha, rows=None):
    """Bicubic 4x of an alpha channel `[H, W]` -> uint8 `[4H, 4W]`.

    With `rows=(y0, y1)`, only the output of LR rows y0..y1 (`[4 (y1 - y0), 4W]`), equal to
    those rows of the whole image's: the band is upscaled with its context rows.
    """
    y0, y1 = rows or (0, alpha.shape[0])
    c0, c1 = max(0, y0 - _BICUBIC_CONTEXT), min(alpha.shape[0], y1 + _BICUBIC_CONTEXT)
    window = alpha[None, c0:c1, :, None].astype(np.float32) / 255.0
    up = bicubic_upsample(window, SCALE).numpy()[0, SCALE * (y0 - c0): SCALE * (y1 - c0), :, 0]
    return np.round(up * 255).astype(np.uint8)


# Longest side of one contact-sheet panel: larger outputs are shrunk for the sheet, so its
# memory is bounded whatever the input size (the samples themselves are written full size).
SHEET_PANEL_MAX = 2048
# Rows processed at once when a whole-image result is reduced (std map, sheet panels): float
# copies then take K x rows x width, not K x height x width.
BAND_ROWS = 64
STD_LABEL = f"std (white = {STD_WHITE} grey levels)"
# White pixels between two panels and around the labels' text.
_SHEET_GAP = 8
_LABEL_MARGIN = 2
# Narrowest width labels are wrapped to (pixels): a tiny panel's label stays a line or two.
_LABEL_MIN_WIDTH = 80


def _bands(length, size):
    return [(start, min(start + size, length)) for start in range(0, length, size)]


def std_map(samples):
    """Per-pixel standard deviation across K uint8 samples `[K, H, W, 3]` -> uint8 `[H, W]`.

    Scaled so a deviation of `STD_WHITE` grey levels (or more) is white. Computed in bands of rows.
    """
    out = np.empty(samples.shape[1:3], np.uint8)
    for y0, y1 in _bands(samples.shape[1], BAND_ROWS):
        std = samples[:, y0:y1].astype(np.float32).std(axis=0).mean(axis=-1)
        out[y0:y1] = np.round(np.clip(std / STD_WHITE, 0, 1) * 255)
    return out


def _shrink(image, block_rows, block_cols):
    """uint8 `[H, W, C]` -> means of `block_rows` x `block_cols` blocks (H and W cut to multiples)."""
    if block_rows == block_cols == 1:
        return image
    height, width = image.shape[0] // block_rows, image.shape[1] // block_cols
    out = np.empty((height, width, image.shape[2]), np.uint8)
    for y0, y1 in _bands(height, max(1, BAND_ROWS // block_rows)):
        block = image[y0 * block_rows:y1 * block_rows, :width * block_cols].astype(np.float32)
        out[y0:y1] = np.round(block.reshape(y1 - y0, block_rows, width, block_cols, -1).mean(axis=(1, 3)))
    return out


def _wrap(text, width, font):
    """Lines of `text`, split between words to fit `width` pixels where a word allows."""
    lines = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _label_strip(labels, panel_width):
    """The sheet's top strip: each label in dark text above its column, wrapped to the panel's
    width (at least `_LABEL_MIN_WIDTH`); a column is widened to its longest line, so labels
    stay whole above a narrow panel. Returns (uint8 `[h, sheet width]`, the columns' left edges)."""
    font = ImageFont.load_default()
    line_height = font.getbbox("Agjp()")[3] + 1
    lines = [_wrap(label, max(panel_width, _LABEL_MIN_WIDTH), font) for label in labels]
    widths = [max([panel_width] + [math.ceil(font.getlength(line)) for line in column])
              for column in lines]
    lefts = [sum(widths[:i]) + i * _SHEET_GAP for i in range(len(widths))]
    strip = Image.new("L", (lefts[-1] + widths[-1], 2 * _LABEL_MARGIN + line_height * max(map(len, lines))), 255)
    draw = ImageDraw.Draw(strip)
    for left, column in zip(lefts, lines):
        for row, line in enumerate(column):
            draw.text((left, _LABEL_MARGIN + row * line_height), line, fill=0, font=font)
    return np.asarray(strip), lefts


class ContactSheet:
    """Labelled panels side by side, built from bands of the samples: the input (LR, enlarged
    by nearest neighbour), the input upscaled by bicubic, the K samples and their std map
    (`std_map`, labelled with its scale).

    Panels are the samples' size (4H x 4W) when their longer side is at most `max_panel`;
    larger ones are shrunk by the smallest integer factor that fits, band by band: rows of a
    band that do not fill a block of `factor` rows wait for the next band. A strip thinner
    than one block (1 x 3000) keeps one row (or column): the mean of all its rows.

    Args:
        rgb: the input, uint8 `[H, W, 3]`.
        num_samples: K.
        max_panel: the longest side of one panel.
    """

    def __init__(self, rgb, num_samples, max_panel=SHEET_PANEL_MAX):
        self.factor = max(1, math.ceil(SCALE * max(rgb.shape[:2]) / max_panel))
        height, width = (max(1, SCALE * side // self.factor) for side in rgb.shape[:2])
        self._block = (min(self.factor, SCALE * rgb.shape[0]), min(self.factor, SCALE * rgb.shape[1]))
        self.labels = ["LR", "bicubic", *(f"sample {k}" for k in range(1, num_samples + 1)), STD_LABEL]
        strip, lefts = _label_strip(self.labels, width)
        self.label_height, self.lefts = len(strip), lefts  # lefts: each panel's first column
        self.sheet = np.full((len(strip) + height, strip.shape[1], 3), 255, np.uint8)
        self.sheet[:len(strip)] = strip[..., None]
        # Views of the sheet, in the order of `labels`.
        self.panels = [self.sheet[len(strip):, left:left + width] for left in lefts]
        rows = np.arange(height) * rgb.shape[0] // height
        cols = np.arange(width) * rgb.shape[1] // width
        self.panels[0][:] = rgb[rows][:, cols]
        if self.factor == 1:
            bicubic = bicubic_upsample(rgb[None].astype(np.float32) / 255.0, SCALE).numpy()[0] * 255
        else:  # Straight to the panel size: a full-size bicubic image would take 16x the input.
            bicubic = tf.image.resize(rgb[None], [height, width], "bicubic", antialias=True).numpy()[0]
        self.panels[1][:] = np.round(np.clip(bicubic, 0, 255))
        self._rows_done = 0  # panel rows filled
        self._pending = np.zeros((num_samples, 0, SCALE * rgb.shape[1], 3), np.uint8)

    def add(self, band):
        """Takes the next band of samples, uint8 `[K, rows, 4W, 3]`, top to bottom."""
        rows = self._block[0]
        if self._pending.shape[1]:  # Complete the waiting block of rows first.
            need = rows - self._pending.shape[1]
            head = np.concatenate([self._pending, band[:, :need]], axis=1)
            band = band[:, need:]
            if head.shape[1] < rows:  # This band was too short to complete it.
                self._pending = head
                return
            self._put(head)
        full = self._put(band)
        self._pending = band[:, full * rows:].copy()  # under a block of rows

    def _put(self, rows):
        """Shrinks the whole blocks of `rows` into the sample and std panels; returns how many."""
        block_rows, block_cols = self._block
        full = min(rows.shape[1] // block_rows, len(self.panels[0]) - self._rows_done)
        rows = rows[:, :full * block_rows]
        done = slice(self._rows_done, self._rows_done + full)
        for panel, sample in zip(self.panels[2:], rows):
            panel[done] = _shrink(sample, block_rows, block_cols)
        self.panels[-1][done] = _shrink(std_map(rows)[..., None], block_rows, block_cols)
        self._rows_done += full
        return full


def contact_sheet(rgb, samples, max_panel=SHEET_PANEL_MAX):
    """`ContactSheet(...).sheet` of the whole samples uint8 `[K, 4H, 4W, 3]`: uint8
    `[label strip + h, (K + 3) panels of w and the gaps between them, 3]`."""
    sheet = ContactSheet(rgb, len(samples), max_panel)
    for y0, y1 in _bands(samples.shape[1], BAND_ROWS):
        sheet.add(samples[:, y0:y1])
    return sheet.sheet
