"""What the programs read as images: a path named is taken literally (globs only when nothing
has that name), is checked before the model loads, and only regular files (or links to them)
of bounded size are read: /dev/zero, a FIFO or a 20000 x 20000 PNG is refused by name,
before anything is read or decoded."""

import os
import struct
import time
import zlib

import numpy as np
import pytest

from srim_tf.cli import sample
from srim_tf.cli.sample import SampleSettings, sample_images
from srim_tf.data import image_io, scan
from tests.helpers import write_image


def _never_load(*args, **kwargs):
    raise AssertionError("the model was loaded before the inputs were checked")


def test_an_existing_file_named_with_glob_characters_is_taken_literally(tmp_path, rng):
    named = write_image(tmp_path / "img[1].png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    write_image(tmp_path / "img1.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    assert image_io.expand_inputs([named]) == [named]
    assert image_io.expand_inputs([str(tmp_path / "img?.png")]) == [str(tmp_path / "img1.png")]


def test_inputs_that_cannot_be_images_are_refused_by_name_before_the_model_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(sample, "load_sampler", _never_load)
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    for name, words in [("missing.png", "not found"), ("fifo.png", "not a regular file"),
                        ("zero.png", "not a regular file")]:
        settings = SampleSettings(model="unused", input=(str(tmp_path / name),), output_dir=str(tmp_path / "out"))
        with pytest.raises(ValueError, match=f"{tmp_path / name}.*{words}|{words}.*{tmp_path / name}"):
            sample_images(settings)
    assert not (tmp_path / "out").exists()


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = write_image(tmp_path / "big.png", np.zeros((40, 50, 3), np.uint8))
    monkeypatch.setattr(image_io, "MAX_IMAGE_PIXELS", 1999)  # 40 x 50 = 2000 pixels
    decoded = []
    monkeypatch.setattr(image_io.tf.io, "decode_image", lambda *a, **k: decoded.append(1))
    with pytest.raises(ValueError, match="big.png declares 50x40 pixels, more than the 1999 read"):
        image_io.read_image(path)
    assert not decoded
    report = scan.scan_files([path, str(tmp_path / "nothing.png")])
    assert report.too_large == [path] and report.corrupt == [str(tmp_path / "nothing.png")]


def test_a_training_folder_entry_pointing_to_dev_zero_is_skipped_unread(tmp_path):
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    good = write_image(tmp_path / "good.png", np.zeros((40, 40, 3), np.uint8))
    report = scan.scan_files([str(tmp_path / "zero.png"), good])
    assert report.usable == [good] and report.corrupt == [str(tmp_path / "zero.png")]


class _InterruptedWhenCompared(int):
    """A minimum size whose first use raises KeyboardInterrupt in the scanning (main) thread,
    as a signal arriving while results come in would: deterministic, unlike a timed signal."""

    def __gt__(self, other):
        raise KeyboardInterrupt


def test_an_interrupted_scan_stops_without_finishing_the_queue(monkeypatch):
    checked = []
    monkeypatch.setattr(scan, "_check_file", lambda path: checked.append(path) or time.sleep(0.05) or (path, (64, 64)))
    with pytest.raises(KeyboardInterrupt):
        scan.scan_files([f"f{i}.png" for i in range(400)], min_size=_InterruptedWhenCompared(1), workers=4)
    # Only the decodes under way when the interrupt came finish; the rest of the queue is dropped.
    assert len(checked) < 40


@pytest.mark.parametrize("value", ["/dev/zero", "fifo"])
def test_a_flagfile_that_is_not_a_regular_file_is_refused_unread(tmp_path, capsys, value):
    from srim_tf.cli import runner

    if value == "fifo":
        value = str(tmp_path / "fifo")
        os.mkfifo(value)
    with pytest.raises(SystemExit) as exit:
        runner.parse_flags(["srim_sample", f"--flagfile={value}"])
    assert exit.value.code == 2
    assert f"error: --flagfile={value} is not a regular file" in capsys.readouterr().err


def test_a_20000_by_20000_png_among_training_files_is_skipped_from_its_header(tmp_path, monkeypatch):
    # The header of a valid 20000 x 20000 RGB PNG: decoding it stalled the scan for minutes.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    giant = tmp_path / "giant.png"
    giant.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                      + chunk(b"IDAT", zlib.compress(b"\0" * 60001)) + chunk(b"IEND", b""))
    good = write_image(tmp_path / "good.png", np.zeros((40, 40, 3), np.uint8))
    decoded = []
    decode = scan.decode_image
    monkeypatch.setattr(scan, "decode_image", lambda encoded: decoded.append(1) or decode(encoded))
    with pytest.raises(ValueError, match="giant.png declares 20000x20000 pixels"):
        image_io.check_image_file(str(giant))
    report = scan.scan_files([str(giant), good], min_size=32)
    assert report.too_large == [str(giant)] and report.usable == [good] and len(decoded) == 1
    assert "1 over 100000000 pixels skipped" in report.summary()
