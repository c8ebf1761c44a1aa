"""Files the programs write are whole or absent; outputs that would destroy a file are refused
before any work: a run killed, out of disk or given a wrong path must not cost the user an
earlier report, model or image."""

import json
import os
import stat
import threading

import numpy as np
import pytest
from PIL import Image

from srim_tf import safe_files
from srim_tf.cli.eval import EvalSettings, evaluate_model
from srim_tf.data.image_io import write_png
from srim_tf.model import pretrained
from srim_tf.model.loading import load_generator
from tests.helpers import captured_stdout, check_command_lines, tiny_generator, write_image


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text('{"earlier": true}')
    with pytest.raises(OSError, match="No space left"):
        with safe_files.written_whole(str(target)) as f:
            f.write('{"half": ')
            raise OSError(28, "No space left on device")
    assert target.read_text() == '{"earlier": true}'
    assert os.listdir(tmp_path) == ["report.json"]


def test_export_of_a_pretrained_folder_that_fails_midway_keeps_the_old_weights(tmp_path, monkeypatch):
    generator = tiny_generator(channels=4, num_convs=2)
    config = {**generator.settings.as_dict(), "train_steps": 1}
    folder = str(tmp_path / "model")
    pretrained.save_pretrained(generator, config, folder, "ckpt-1")
    before = open(os.path.join(folder, "generator.weights.h5"), "rb").read()

    def disk_full(path):
        open(path, "wb").write(b"truncated")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generator, "save_weights", disk_full)
    with pytest.raises(OSError):
        pretrained.save_pretrained(generator, {**config, "train_steps": 2}, folder, "ckpt-2")
    assert open(os.path.join(folder, "generator.weights.h5"), "rb").read() == before
    assert json.load(open(os.path.join(folder, "config.json")))["checkpoint"] == "ckpt-1"
    assert sorted(os.listdir(folder)) == ["config.json", "generator.weights.h5"]
    load_generator(folder)  # still loads


def _refusals(tmp_path, image):
    """`[(flags, words of the refusal)]`: --json / --csv values that would lose a file."""
    return [([f"--csv={image}"], "--csv names an image"),
            ([f"--json={tmp_path / 'r.txt'}", f"--csv={tmp_path / 'r.txt'}"], "must name different files"),
            ([f"--json={tmp_path / 'missing' / 'r.json'}"], "--json's folder does not exist"),
            ([f"--json={tmp_path}"], "names a folder")]


@pytest.fixture
def hr_image(tmp_path, rng):
    (tmp_path / "Set").mkdir()
    return write_image(tmp_path / "Set" / "baby.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))


def test_eval_refuses_outputs_that_would_destroy_a_file_before_any_work(tmp_path, hr_image):
    original = open(hr_image, "rb").read()
    hr_dir = os.path.dirname(hr_image)
    for flags, message in _refusals(tmp_path, hr_image):
        outputs = dict(flag[2:].split("=", 1) for flag in flags)
        with captured_stdout() as table, pytest.raises(ValueError, match=message):
            evaluate_model(EvalSettings(model="bicubic", hr_dir=(hr_dir,), lpips="none", **outputs))
        assert table.getvalue() == ""  # refused before measuring anything
    assert open(hr_image, "rb").read() == original
    with captured_stdout():
        evaluate_model(EvalSettings(model="bicubic", hr_dir=(hr_dir,), lpips="none",
                                    json=str(tmp_path / "r.json"), csv=str(tmp_path / "r.csv")))
    assert sorted(os.listdir(tmp_path)) == ["Set", "r.csv", "r.json"]  # no temporaries left


@pytest.mark.slow
def test_srim_eval_refuses_them_in_one_line_with_exit_status_2(tmp_path, hr_image):
    common = ["--model=bicubic", "--lpips=none", f"--hr_dir={os.path.dirname(hr_image)}"]
    check_command_lines("eval", [([*common, *flags], 2, message)
                                 for flags, message in _refusals(tmp_path, hr_image)])
    assert sorted(os.listdir(tmp_path)) == ["Set"]


# What a write does depends on what the path is (safe_files' module docstring): a missing
# path or a regular file is replaced whole; a link is written through to its target and
# stays a link; a device, FIFO or descriptor (/dev/stdout) is written into, never replaced.

def _device_copy_of_dev_null(path):
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a character device needs root")
    return path


def test_a_character_device_is_written_into_not_replaced(tmp_path):
    device = _device_copy_of_dev_null(str(tmp_path / "null"))
    with safe_files.written_whole(device) as f:
        f.write("report")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["null"]


def test_a_pipe_named_by_a_descriptor_path_gets_the_report(tmp_path):
    read_end, write_end = os.pipe()
    try:
        with safe_files.written_whole(f"/dev/fd/{write_end}") as f:  # as /dev/stdout is
            f.write("report")
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as pipe:
        assert pipe.read() == "report"


def test_a_fifo_is_written_into(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()), daemon=True)
    reader.start()
    with safe_files.written_whole(fifo) as f:
        f.write("report")
    reader.join(10)
    assert received == ["report"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("target_exists", [True, False])
def test_a_link_is_written_through_to_its_target_and_stays_a_link(tmp_path, target_exists):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "results.json"
    if target_exists:
        target.write_text("stale")
    link = tmp_path / "results.json"
    link.symlink_to(target)
    with safe_files.written_whole(str(link)) as f:
        f.write("fresh")
    assert link.is_symlink() and target.read_text() == "fresh"
    assert sorted(os.listdir(tmp_path / "real")) == ["results.json"]  # no temporary left


def test_png_outputs_follow_the_same_rule(tmp_path):
    device = _device_copy_of_dev_null(str(tmp_path / "null.png"))
    write_png(device, np.zeros((4, 4, 3), np.uint8))
    assert stat.S_ISCHR(os.stat(device).st_mode)
    (tmp_path / "real.png").write_bytes(b"stale")
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    write_png(str(tmp_path / "link.png"), np.full((4, 4, 3), 7, np.uint8))
    assert (tmp_path / "link.png").is_symlink()
    assert np.asarray(Image.open(tmp_path / "real.png")).max() == 7


def test_eval_writes_json_and_csv_to_stdout_when_given_a_dash(tmp_path, hr_image, capsys):
    evaluate_model(EvalSettings(model="bicubic", hr_dir=(os.path.dirname(hr_image),), lpips="none",
                                json="-"))
    out = capsys.readouterr()
    assert json.loads(out.out)["Set"]["per_image"][0]["image"] == "baby.png"
    assert "Y-PSNR" in out.err  # the table goes to stderr, so stdout is the report alone
    evaluate_model(EvalSettings(model="bicubic", hr_dir=(os.path.dirname(hr_image),), lpips="none",
                                csv="-"))
    assert capsys.readouterr().out.splitlines()[1].startswith("Set,baby.png,")
    with pytest.raises(ValueError, match="must name different files"):
        evaluate_model(EvalSettings(model="bicubic", hr_dir=(os.path.dirname(hr_image),),
                                    lpips="none", json="-", csv="-"))


def test_eval_writes_one_report_into_a_pipe(tmp_path, rng):
    folder = tmp_path / "Two"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        write_image(folder / name, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    read_end, write_end = os.pipe()
    try:
        with captured_stdout():
            evaluate_model(EvalSettings(model="bicubic", hr_dir=(str(folder),), lpips="none",
                                        json=f"/dev/fd/{write_end}"))
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as pipe:
        assert len(json.loads(pipe.read())["Two"]["per_image"]) == 2  # one document, not one per image
