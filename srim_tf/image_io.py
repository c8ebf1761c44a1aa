"""Reading and writing the images users bring: grey, alpha, palette and 16-bit files."""

import dataclasses
import os
import struct
import zlib

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


# PNG colour type by channel count: grey, grey + alpha, RGB, RGBA.
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}
_PNG_BAND_ROWS = 64


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(path, pixels, sixteen_bit=False):
    """Writes uint8 `[H, W, C]` (C in 1-4) as PNG, scaled to 16 bits when asked; atomic.

    Encoded band by band of rows, so memory stays at a band whatever the image size (a
    whole-image encoder holds a copy of the pixels and of the file).
    """
    height, width, channels = pixels.shape
    depth = 16 if sixteen_bit else 8
    header = struct.pack(">IIBBBBB", width, height, depth, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    compressor = zlib.compressobj(6)
    previous = np.zeros((1, width * channels * depth // 8), np.uint8)  # the row above the first
    temporary = path + ".partial"
    with open(temporary, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header))
        for y0 in range(0, height, _PNG_BAND_ROWS):
            rows = pixels[y0:y0 + _PNG_BAND_ROWS].reshape(-1, width * channels)
            if sixteen_bit:  # big-endian 16-bit samples, v * 257 maps 255 to 65535
                rows = (rows.astype(">u2") * 257).view(np.uint8).reshape(len(rows), -1)
            # Filter "Up" (type 2): each byte minus the byte above, modulo 256.
            above = np.concatenate([previous, rows[:-1]])
            filtered = (rows.astype(np.int16) - above.astype(np.int16)).astype(np.uint8)
            previous = rows[-1:]
            data = np.concatenate([np.full((len(rows), 1), 2, np.uint8), filtered], axis=1)
            f.write(_png_chunk(b"IDAT", compressor.compress(data.tobytes())))
        f.write(_png_chunk(b"IDAT", compressor.flush()) + _png_chunk(b"IEND", b""))
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
