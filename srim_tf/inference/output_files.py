"""The files srim_sample writes, by name and by the mark in their PNG: how an output is known
again (even renamed), so srim_eval never takes one for ground truth."""

import os
import re

from srim_tf.data.image_io import png_text

# Written into every PNG srim_sample writes (a tEXt chunk), so an output is known even renamed.
OUTPUT_MARK = {"Software": "srim_sample"}
_OUTPUT_NAME = re.compile(r"_x4_(s\d+|sheet|std)\.png$")


def sample_name(stem, k):
    return f"{stem}_x4_s{k}.png"


def sheet_name(stem):
    return f"{stem}_x4_sheet.png"


def std_name(stem):
    return f"{stem}_x4_std.png"


def is_sample_output(path):
    """Whether `path` is a file srim_sample wrote: named as its outputs are, or marked."""
    if _OUTPUT_NAME.search(os.path.basename(path)):
        return True
    try:
        text = png_text(path)
    except OSError:
        return False
    return all(text.get(key) == value for key, value in OUTPUT_MARK.items())
