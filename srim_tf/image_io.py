"""Reading and writing the images users bring: grey, alpha, palette and 16-bit files."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from srim_tf.data import IMAGE_EXTENSIONS


@dataclasses.dataclass
class LoadedImage:
    """An image split into what the model sees and what is carried around it.

    rgb: uint8 `[H, W, 3]` (grey replicated); alpha: uint8 `[H, W]` or None;
    grey: whether the file had no colour; sixteen_bit: whether it stored 16 bits.
    """
    rgb: np.ndarray
    alpha: np.ndarray = None
    grey: bool = False
    sixteen_bit: bool = False


def _is_16_bit_png(encoded):
    # PNG signature, then the IHDR chunk whose bit-depth byte sits at offset 24.
    return encoded[:8] == b"\x89PNG\r\n\x1a\n" and len(encoded) > 24 and encoded[24] == 16


def read_image(path):
    """Reads an image file; raises `ValueError` naming the file if it cannot be decoded."""
    try:
        encoded = tf.io.read_file(path).numpy()
        if _is_16_bit_png(encoded):
            # Processed at 8 bits (the model's training depth), saved back at 16.
            pixels = tf.io.decode_png(encoded, channels=0, dtype=tf.uint16).numpy()
            pixels = np.round(pixels / 257.0).astype(np.uint8)
        else:
            pixels = tf.io.decode_image(encoded, channels=0, expand_animations=False).numpy()
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"Cannot decode image file {path}: {str(error).splitlines()[0]}") from error
    channels = pixels.shape[-1]
    alpha = pixels[..., -1] if channels in (2, 4) else None
    colour = pixels[..., :3] if channels >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    return LoadedImage(colour, alpha, grey=channels <= 2, sixteen_bit=_is_16_bit_png(encoded))


def write_png(path, pixels, sixteen_bit=False):
    """Writes uint8 `[H, W, C]` as PNG (scaled to 16 bits when asked); atomic."""
    if sixteen_bit:
        pixels = pixels.astype(np.uint16) * 257
    temporary = path + ".partial"
    tf.io.write_file(temporary, tf.io.encode_png(pixels))
    os.replace(temporary, path)


def expand_inputs(inputs):
    """Files, folders (recursive) and glob patterns -> sorted unique image paths."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            for root, _, names in os.walk(item):
                paths += [os.path.join(root, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
        elif any(ch in item for ch in "*?["):
            paths += tf.io.gfile.glob(item)
        else:
            paths.append(item)
    return sorted(dict.fromkeys(paths))
