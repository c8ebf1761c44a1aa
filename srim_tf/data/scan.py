"""Image files decoded once before training: corrupt, truncated, empty or non-image files
and (in crop mode) images smaller than the HR size are skipped and counted, and the first
few paths are logged.
"""

import dataclasses
import os
from concurrent import futures

import tensorflow as tf
from absl import logging

from srim_tf.data.image_io import MAX_IMAGE_PIXELS, ImageTooLarge, check_image_file

_LOGGED_BAD_PATHS = 5


def decode_image(encoded):
    """Encoded bytes -> uint8 RGB `[H, W, 3]`: grey replicated, alpha dropped, 16 bits cut to 8."""
    return tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)


@dataclasses.dataclass
class ScanReport:
    """What the check of image files found."""
    usable: list
    corrupt: list
    too_small: list
    too_large: list = dataclasses.field(default_factory=list)

    def summary(self):
        return (f"{len(self.usable)} usable images, {len(self.corrupt)} unreadable skipped,"
                f" {len(self.too_small)} smaller than the HR size skipped"
                + (f", {len(self.too_large)} over {MAX_IMAGE_PIXELS} pixels skipped" if self.too_large else ""))

    def skipped(self):
        """`[(kind, paths)]` of the skipped files."""
        return [("unreadable", self.corrupt), ("smaller than the HR size", self.too_small),
                (f"larger than {MAX_IMAGE_PIXELS} pixels", self.too_large)]

    def gone(self):
        """The usable files that can no longer be read as files (deleted, emptied, replaced)."""
        return [path for path in self.usable if not os.path.isfile(path) or not os.path.getsize(path)]

    def details(self):
        """The summary, then the first few skipped files of each kind by name."""
        lines = [self.summary()]
        for kind, bad in self.skipped():
            if bad:
                more = f" and {len(bad) - _LOGGED_BAD_PATHS} more" if len(bad) > _LOGGED_BAD_PATHS else ""
                lines.append(f"Skipped as {kind}: {', '.join(bad[:_LOGGED_BAD_PATHS])}{more}")
        return "\n\n".join(lines)  # Markdown paragraphs in TensorBoard's Text tab


def _check_file(path):
    """`(path, (height, width))`, `(path, None)` if unreadable, `(path, "too large")`."""
    try:
        check_image_file(path)  # no device, FIFO or giant is read
        image = decode_image(tf.io.read_file(path))
        return path, tuple(image.shape[:2])
    except ImageTooLarge:
        return path, "too large"
    except (tf.errors.OpError, ValueError):
        return path, None


def scan_files(paths, min_size=0, workers=8):
    """Decodes every file once; sorts them into usable, corrupt, too small and too large.

    Decoding runs in threads (TensorFlow ops release the GIL). Interrupted (SIGTERM is a
    SystemExit in the main thread), the files not yet started are dropped, so the scan
    ends with the decodes under way.
    """
    report = ScanReport([], [], [])
    pool = futures.ThreadPoolExecutor(workers)
    try:
        for path, shape in pool.map(_check_file, paths):
            if shape is None:
                report.corrupt.append(path)
            elif shape == "too large":
                report.too_large.append(path)
            elif min(shape) < min_size:
                report.too_small.append(path)
            else:
                report.usable.append(path)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for kind, bad in report.skipped():
        if bad:
            logging.warning("Skipping %d %s image file(s), e.g. %s", len(bad), kind,
                            ", ".join(bad[:_LOGGED_BAD_PATHS]))
    return report
