"""Reading and writing the images users bring: grey, alpha, palette and 16-bit files."""

import contextlib
import dataclasses
import glob
import io
import math
import os
import stat
import struct
import warnings
import zlib

import numpy as np
import tensorflow as tf

from srim_tf import safe_files

# The files read as images: by training's folder sources and by the programs' inputs.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Largest image read, checked in its header before decoding: 100 megapixels, the largest
# camera photos. A 20000 x 20000 PNG (400) stalled training's scan with no message.
MAX_IMAGE_PIXELS = 100_000_000
# Largest image file read: a 100-megapixel 16-bit PNG stored uncompressed is 0.6 GiB.
MAX_IMAGE_FILE_BYTES = 1 << 30


class ImageTooLarge(ValueError):
    """An image file beyond `MAX_IMAGE_FILE_BYTES` or `MAX_IMAGE_PIXELS`."""


def check_regular_file(path):
    """Raises a `ValueError` naming `path` unless it is a regular file or a link to one: a
    device (/dev/zero), FIFO or socket would be read without end or block."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"Image file not found: {path}") from None
    except OSError as error:
        raise ValueError(f"Cannot read {path}: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path} is not a regular file (a device, FIFO, socket or folder);"
                         " only image files are read.")


def _declared_size(path):
    """`(width, height)` from the file's header (Pillow reads no pixels), None if Pillow does
    not know the format (TensorFlow's decoder then has the last word), or `(inf, inf)` for
    sizes Pillow itself calls a decompression bomb."""
    from PIL import Image

    with open(path, "rb") as file:
        head = file.read(24)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":  # read here: Pillow's bomb
        return struct.unpack(">II", head[16:24])  # check would hide a PNG's size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                return image.size
        except Image.DecompressionBombError:
            return math.inf, math.inf
        except Exception:  # any format Pillow cannot parse
            return None


def check_image_file(path):
    """Raises a `ValueError` naming `path` unless it is a regular file (`check_regular_file`)
    of at most `MAX_IMAGE_FILE_BYTES` declaring at most `MAX_IMAGE_PIXELS`: before anything
    is read or decoded. `ImageTooLarge` for the two bounds."""
    check_regular_file(path)
    size = os.path.getsize(path)
    if size > MAX_IMAGE_FILE_BYTES:
        raise ImageTooLarge(f"{path} is {size / 2**30:.1f} GiB, larger than the"
                            f" {MAX_IMAGE_FILE_BYTES / 2**30:g} GiB image file read.")
    declared = _declared_size(path)
    if declared and declared[0] * declared[1] > MAX_IMAGE_PIXELS:
        width, height = declared
        shown = f"{width}x{height}" if math.isfinite(width) else "a decompression bomb's"
        raise ImageTooLarge(f"{path} declares {shown} pixels, more than the {MAX_IMAGE_PIXELS} read.")


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


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_16_bit_png(encoded):
    # PNG signature, then the IHDR chunk whose bit-depth byte sits at offset 24.
    return encoded[:8] == _PNG_SIGNATURE and len(encoded) > 24 and encoded[24] == 16


def png_text(path, limit=1 << 16):
    """The tEXt chunks `{keyword: text}` before a PNG's pixels (within its first `limit`
    bytes); {} for other files."""
    with open(path, "rb") as file:
        head = file.read(limit)
    if head[:8] != _PNG_SIGNATURE:
        return {}
    text, offset = {}, 8
    while offset + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[offset:offset + 8])
        if kind == b"IDAT":
            break
        if kind == b"tEXt":
            key, _, value = head[offset + 8:offset + 8 + length].partition(b"\0")
            text[key.decode("latin-1")] = value.decode("latin-1")
        offset += 12 + length
    return text


# EXIF orientation (tag 0x0112) -> how to turn the stored pixels upright, as cameras mean them.
_UPRIGHT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1),
}


def _exif_orientation(encoded):
    """The EXIF orientation of a JPEG, WebP or TIFF-tagged file; 1 (upright) if none."""
    if not (encoded[:2] == b"\xff\xd8" or encoded[8:12] == b"WEBP"):
        return 1
    from PIL import Image  # Only for files that can carry EXIF; decoding stays TensorFlow's.

    try:
        return int(Image.open(io.BytesIO(encoded)).getexif().get(0x0112, 1))
    except Exception:  # Unreadable EXIF: the pixels as stored, as without EXIF.
        return 1


def read_image(path):
    """Reads an image file; raises `ValueError` naming the file if it is not a bounded regular
    file (`check_image_file`) or cannot be decoded."""
    check_image_file(path)
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
    upright = _UPRIGHT.get(_exif_orientation(encoded))
    if upright:
        pixels = np.ascontiguousarray(upright(pixels))
    channels = pixels.shape[-1]
    alpha = pixels[..., -1] if channels in (2, 4) else None
    colour = pixels[..., :3] if channels >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    return LoadedImage(colour, alpha, grey=channels <= 2, sixteen_bit=_is_16_bit_png(encoded))


# PNG colour type by channel count: grey, grey + alpha, RGB, RGBA.
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}
_PNG_BAND_ROWS = 64
# zlib level 3, not libpng's 6: three 1924x1284 samples are written in 0.5 s instead of
# 2.6 s (which was a third of srim_sample's bf16 time for K = 3), for 7% larger files.
_ZLIB_LEVEL = 3


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


class _Aborted(Exception):
    """Ends a PNG's write unfinished, so its temporary is removed."""


class PngWriter:
    """Writes one PNG band of rows at a time, so memory stays at a band whatever the size.

    The file appears only when every row is written (`safe_files.written_whole`: a
    temporary beside it, renamed at `close()`, removed by `abort()` or when the `with`
    block fails; a device or descriptor is written into).

    Args:
        path: the PNG to write.
        height, width, channels: the image's size; channels 1-4 (grey, grey + alpha, RGB,
            RGBA).
        sixteen_bit: store 16-bit samples (each uint8 value v as v * 257).
        text: `{keyword: text}` stored as PNG tEXt chunks (Latin-1), which `png_text` reads.
    """

    def __init__(self, path, height, width, channels, sixteen_bit=False, text=None):
        if channels not in _PNG_COLOUR_TYPES:
            raise ValueError(f"A PNG holds 1 to 4 channels. Received: channels={channels}")
        self.path, self.height, self.width, self.channels = path, height, width, channels
        self.sixteen_bit = sixteen_bit
        self.rows_written = 0
        depth = 16 if sixteen_bit else 8
        header = struct.pack(">IIBBBBB", width, height, depth, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
        self._compressor = zlib.compressobj(_ZLIB_LEVEL)
        self._previous = np.zeros((1, width * channels * depth // 8), np.uint8)  # above row 0
        self._writing = safe_files.written_whole(path, "wb")
        self._file = self._writing.__enter__()
        self._file.write(_PNG_SIGNATURE + _png_chunk(b"IHDR", header) + b"".join(
            _png_chunk(b"tEXt", f"{key}\0{value}".encode("latin-1")) for key, value in (text or {}).items()))

    def write(self, pixels):
        """Appends the next rows, uint8 `[rows, width, channels]`."""
        if pixels.shape[1:] != (self.width, self.channels) or pixels.dtype != np.uint8:
            raise ValueError(f"PngWriter({self.path}) takes uint8 rows of shape [rows, {self.width},"
                             f" {self.channels}]. Received: {pixels.dtype} {pixels.shape}")
        if self.rows_written + len(pixels) > self.height:
            raise ValueError(f"PngWriter({self.path}): more than the {self.height} rows declared.")
        for y0 in range(0, len(pixels), _PNG_BAND_ROWS):
            self._write_rows(pixels[y0:y0 + _PNG_BAND_ROWS])
        self.rows_written += len(pixels)

    def _write_rows(self, pixels):
        rows = pixels.reshape(len(pixels), -1)
        if self.sixteen_bit:  # big-endian 16-bit samples, v * 257 maps 255 to 65535
            rows = (rows.astype(">u2") * 257).view(np.uint8).reshape(len(rows), -1)
        # Filter "Up" (type 2): each byte minus the byte above, modulo 256.
        above = np.concatenate([self._previous, rows[:-1]])
        filtered = (rows.astype(np.int16) - above.astype(np.int16)).astype(np.uint8)
        self._previous = rows[-1:]
        data = np.concatenate([np.full((len(rows), 1), 2, np.uint8), filtered], axis=1)
        self._file.write(_png_chunk(b"IDAT", self._compressor.compress(data.tobytes())))

    def close(self):
        """Finishes the file and renames it into place; every declared row must be written."""
        if self.rows_written != self.height:
            self.abort()
            raise ValueError(f"PngWriter({self.path}): {self.rows_written} of {self.height} rows"
                             " written; the file was not kept.")
        self._file.write(_png_chunk(b"IDAT", self._compressor.flush()) + _png_chunk(b"IEND", b""))
        self._writing.__exit__(None, None, None)

    def abort(self):
        """Removes the partial file; the target path is left as it was."""
        if not self._file.closed:
            with contextlib.suppress(_Aborted):
                self._writing.__exit__(_Aborted, _Aborted(), None)

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            self.close()
        else:
            self.abort()


def write_png(path, pixels, sixteen_bit=False, text=None):
    """Writes uint8 `[H, W, C]` (C in 1-4) as PNG, scaled to 16 bits when asked, with the
    tEXt chunks `text`; atomic.

    Encoded band by band of rows (`PngWriter`): a whole-image encoder would hold a copy of
    the pixels and of the file.
    """
    with PngWriter(path, *pixels.shape, sixteen_bit, text) as writer:
        writer.write(pixels)


def is_pattern(item):
    """Whether `item` is read as a glob pattern: it holds `*`, `?` or `[` and names nothing."""
    return any(ch in item for ch in "*?[") and not os.path.lexists(item)


def expand_inputs(inputs):
    """Files, folders (recursive) and glob patterns -> sorted unique image paths. A path that
    exists is taken literally, even with glob characters in its name (img[1].png)."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            for root, _, names in os.walk(item):
                paths += [os.path.join(root, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
        elif is_pattern(item):
            paths += glob.glob(item)
        else:
            paths.append(item)
    return sorted(dict.fromkeys(paths))
