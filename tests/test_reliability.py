"""Bad input and faults: every case fails alone, clearly, and loses nothing (issue 15).

The corpus is generated here, tiny: hostile serving requests, colliding output names,
flag values that used to give nonsense or deep errors, damaged checkpoints, unreadable
evaluation images and killed exports.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srim_tf.serving import saved_model as export
from srim_tf.model.loading import load_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- serving ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(trained_workdir, tmp_path_factory):
    generator = load_generator(trained_workdir)[0]
    base = str(tmp_path_factory.mktemp("served") / "srim")
    path = export.export(generator, base, max_input_pixels=400, max_request_pixels=800)
    return tf.saved_model.load(path)


def _samples(model, images, num_samples=2, seed=3, noise_scale=1.0):
    return model.signatures["samples"](
        images=tf.constant(images), num_samples=tf.constant(num_samples, tf.int64),
        seed=tf.constant(seed, tf.int64), noise_scale=tf.constant(noise_scale, tf.float32))["samples"]


def _png(height, width):
    return tf.io.encode_png(np.full((height, width, 3), 90, np.uint8))


def _uint8(*shape):
    return np.full(shape, 120, np.uint8)


# (what is sent, a call on the loaded model, what the error must name)
BAD_REQUESTS = [
    ("rank 3", lambda m: _samples(m, _uint8(6, 5, 3)), "rank 4"),
    ("rank 5", lambda m: _samples(m, _uint8(1, 1, 6, 5, 3)), "rank 4"),
    ("9 channels", lambda m: _samples(m, _uint8(1, 6, 5, 9)), "3 channels"),
    ("1 channel", lambda m: m.signatures["serving_default"](images=_uint8(1, 6, 5, 1)), "3 channels"),
    ("no images", lambda m: _samples(m, _uint8(0, 6, 5, 3)), "at least one image"),
    ("0 pixels high", lambda m: _samples(m, _uint8(1, 0, 5, 3)), "at least one image"),
    ("image over max_input_pixels", lambda m: _samples(m, _uint8(1, 30, 30, 3), 1), "max_input_pixels"),
    ("num_samples 2^32+2", lambda m: _samples(m, _uint8(1, 6, 5, 3), 2 ** 32 + 2), "max_request_pixels"),
    ("num_samples 0", lambda m: _samples(m, _uint8(1, 6, 5, 3), 0), "num_samples must be >= 1"),
    ("num_samples -3", lambda m: _samples(m, _uint8(1, 6, 5, 3), -3), "num_samples must be >= 1"),
    ("images x samples x pixels over the bound",  # 4 x 3 x 100 = 1200 > 800
     lambda m: _samples(m, _uint8(4, 10, 10, 3), 3), "max_request_pixels"),
    ("encoded pixels over the bound",  # 3 x 400 = 1200 > 800
     lambda m: m.signatures["encoded"](encoded=tf.stack([_png(20, 20)] * 3)), "max_request_pixels"),
    ("noise_scale nan", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=float("nan")), "noise_scale"),
    ("noise_scale inf", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=float("inf")), "noise_scale"),
    ("noise_scale huge", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=1e30), "noise_scale"),
    ("noise_scale negative", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=-1.0), "noise_scale"),
    ("samples_at rank 3", lambda m: m.signatures["samples_at"](
        lr=tf.zeros((6, 5, 3)), num_samples=tf.constant(1), seed=tf.constant(0, tf.int64),
        noise_scale=tf.constant(1.0), offset=tf.constant([0, 0])), "rank 4"),
]


def test_bad_requests_fail_alone_with_a_clear_error_and_the_model_keeps_serving(served):
    image = (np.arange(2 * 6 * 5 * 3).reshape(2, 6, 5, 3) * 7 % 256).astype(np.uint8)
    before = _samples(served, image).numpy()
    assert before.shape == (2, 2, 24, 20, 3)
    for name, call, expected in BAD_REQUESTS:
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            call(served)
        assert expected in caught.value.message, (name, caught.value.message[:500])
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        served.signatures["serving_default"](images=tf.zeros((1, 6, 5, 3), tf.float32))
    np.testing.assert_array_equal(_samples(served, image).numpy(), before)


def _png_declaring(height, width):
    """A PNG of a few dozen bytes whose IHDR declares height x width (8-bit RGB)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _jpeg_declaring(height, width):
    """A real 8x8 JPEG with its frame header (SOF0) patched to declare height x width."""
    data = bytearray(tf.io.encode_jpeg(np.full((8, 8, 3), 90, np.uint8)).numpy())
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height (2), width (2)
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_encoded_requests_are_checked_by_declared_size_before_any_decoding(served):
    good = _png(6, 5).numpy()
    before = served.signatures["encoded"](encoded=tf.stack([good]))["png"].numpy()
    cases = [  # (files, what the error must name); the bound is 400 pixels per image
        ([_png_declaring(100000, 100000)], "max_input_pixels=400"),
        ([good, _jpeg_declaring(65000, 65000)], "max_input_pixels=400"),
        ([_png_declaring(21, 20)], "max_input_pixels=400"),  # one row over: sizes are exact
        ([_png_declaring(0, 7)], "at least 1x1"),
        ([good, b"GIF89a" + b"\0" * 40], "must be PNG or JPEG files; image 1"),
        ([b""], "must be PNG or JPEG files; image 0"),
    ]
    for files, expected in cases:
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            served.signatures["encoded"](encoded=tf.constant(files))
        assert expected in caught.value.message, (expected, caught.value.message[:500])
    # Declared sizes within the bounds pass the check: a JPEG, and PNG and JPEG together.
    jpeg = tf.io.encode_jpeg(np.full((20, 20, 3), 90, np.uint8))
    assert len(served.signatures["encoded"](encoded=tf.stack([jpeg, good]))["png"]) == 2
    np.testing.assert_array_equal(
        served.signatures["encoded"](encoded=tf.stack([good]))["png"].numpy(), before)


def test_export_refuses_a_bound_it_cannot_enforce(trained_workdir, tmp_path):
    generator = load_generator(trained_workdir)[0]
    with pytest.raises(ValueError, match="max_request_pixels must be in"):
        export.export(generator, str(tmp_path), max_request_pixels=2 ** 40)
    with pytest.raises(ValueError, match="noise_scale must be a finite number"):
        export.export(generator, str(tmp_path), noise_scale=float("nan"))
    assert os.listdir(tmp_path) == []


def test_export_writes_a_version_folder_only_when_complete(trained_workdir, tmp_path, monkeypatch):
    generator = load_generator(trained_workdir)[0]
    base = tmp_path / "srim"
    base.mkdir()
    # What a SIGKILLed export leaves: its temporary folder, named by a process now gone.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (base / f".partial-1-{dead}").mkdir()
    (base / f".partial-1-{dead}" / "saved_model.pb").write_bytes(b"half")
    seen_during_save = []
    save = tf.saved_model.save

    def watched_save(*args, **kwargs):
        save(*args, **kwargs)
        seen_during_save.extend(os.listdir(base))
        raise KeyboardInterrupt  # interrupted after writing, before the rename

    monkeypatch.setattr(tf.saved_model, "save", watched_save)
    with pytest.raises(KeyboardInterrupt):
        export.export(generator, str(base))
    assert not any(name.isdigit() for name in seen_during_save)
    assert os.listdir(base) == []  # the dead export's folder and ours are gone
    monkeypatch.setattr(tf.saved_model, "save", save)
    assert export.export(generator, str(base)) == str(base / "1")
    assert sorted(os.listdir(base)) == ["1"]


# ---- checkpoints ------------------------------------------------------------------------

def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def test_damaged_latest_checkpoint_is_named_and_the_previous_one_used(tmp_path, caplog):
    from srim_tf.model import checkpoints
    from srim_tf.training import loop as train
    from srim_tf.inference.samplers import load_sampler
    from tests.conftest import tiny_config

    workdir = str(tmp_path / "run")
    config = tiny_config(train_steps=4, checkpoint_every=2, image_summary_every=100)
    train.train_and_evaluate(config, workdir)
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    _truncate(os.path.join(checkpoint_dir, "ckpt-4.data-00000-of-00001"))
    os.makedirs(os.path.join(checkpoint_dir, "ckpt-6_temp"))  # a write killed midway
    with caplog.at_level("WARNING"):
        generator, _, used = load_generator(workdir)  # what srim_sample and srim_export do
    assert used.endswith("ckpt-2")
    assert "ckpt-4 is damaged" in caplog.text and "lost" in caplog.text
    assert load_sampler(workdir).description.endswith("ckpt-2")
    with pytest.raises(ValueError, match="ckpt-4 is damaged"):
        load_generator(os.path.join(checkpoint_dir, "ckpt-4"))  # asked for by name
    # Resume goes on from step 2, rewrites step 4 whole and removes the temporary folder.
    train.train_and_evaluate(config, workdir)
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-4")
    assert checkpoints._read_error(os.path.join(checkpoint_dir, "ckpt-4")) is None
    assert not os.path.exists(os.path.join(checkpoint_dir, "ckpt-6_temp"))
    # A different precision is refused before anything is written.
    before = open(os.path.join(workdir, "config.json")).read()
    with pytest.raises(ValueError, match="--mixed_precision: workdir has 'off', flags give 'mixed_float16'"):
        train.train_and_evaluate(config.replace(mixed_precision="mixed_float16", train_steps=6), workdir)
    assert open(os.path.join(workdir, "config.json")).read() == before
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-4")


def test_a_config_without_a_checkpoint_counts_as_an_empty_workdir(tmp_path):
    from srim_tf.model import checkpoints
    from srim_tf.training import loop as train
    from tests.conftest import tiny_config

    workdir = tmp_path / "run"
    workdir.mkdir()
    # What a first start that failed before its first checkpoint leaves.
    checkpoints.write_config(str(workdir), tiny_config(channels=16).as_dict())
    train.train_and_evaluate(tiny_config(train_steps=1, checkpoint_every=1, image_summary_every=100),
                             str(workdir))
    assert checkpoints.read_config(str(workdir))["channels"] == 8
    assert checkpoints.latest_checkpoint(str(workdir)).endswith("ckpt-1")


# ---- the programs: one-line errors, exit 2 for usage errors, 1 for failures ---------------

# Runs one program's main once per argv in this one process (a TF start costs seconds), and
# reports each run's exit status, its stderr, and any exception that escaped as a traceback.
_DRIVER = """
import contextlib, io, importlib, json, sys, traceback
from absl import flags
module = importlib.import_module(sys.argv[1])
reports = []
for argv in json.loads(sys.argv[2]):
    flags.FLAGS.unparse_flags()
    sys.argv = argv
    stderr, code, escaped = io.StringIO(), 0, None
    with contextlib.redirect_stderr(stderr):
        try:
            module.run()
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except BaseException:
            escaped = traceback.format_exc()
    reports.append({"argv": argv, "code": code, "stderr": stderr.getvalue(), "traceback": escaped})
print("REPORTS" + json.dumps(reports))
"""


def _run_cases(module, program, cases, timeout=300):
    """Runs `cases` [(args, expected status, text the error line must hold)] and checks each."""
    argvs = [[program, *args] for args, _, _ in cases]
    result = subprocess.run([sys.executable, "-c", _DRIVER, module, json.dumps(argvs)],
                            capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert "REPORTS" in result.stdout, result.stderr[-3000:]
    reports = json.loads(result.stdout.split("REPORTS", 1)[1])
    for (args, code, text), report in zip(cases, reports):
        assert report["traceback"] is None, (args, report["traceback"][-1500:])
        assert report["code"] == code, (args, report)
        if text:
            errors = [line for line in report["stderr"].splitlines() if f"{program}: error:" in line]
            assert len(errors) == 1 and text in errors[0], (args, report["stderr"][-1500:])
    return reports


def test_training_flags_that_gave_nonsense_or_deep_errors_are_refused_in_one_line(tmp_path):
    workdir = f"--workdir={tmp_path / 'run'}"
    (tmp_path / "file").write_text("x")
    _run_cases("srim_tf.cli.train", "srim_train", [
        ([workdir, "--hr_size=4"], 2, "--hr_size=4: must be a multiple of 4 and >= 16"),
        ([workdir, "--hr_size=30"], 2, "--hr_size=30"),
        ([workdir, "--kernel_size=4"], 2, "--kernel_size=4: must be an odd integer"),
        ([workdir, "--noise_channels=0"], 2, "--noise_channels=0: must be an integer >= 1"),
        ([workdir, "--learning_rate=-1"], 2, "--learning_rate=-1.0: must be a finite number > 0"),
        ([workdir, "--learning_rate=nan"], 2, "--learning_rate=nan"),
        ([workdir, "--patches_per_image=0"], 2, "--patches_per_image=0"),
        ([workdir, "--channels=0"], 2, "--channels=0"),
        ([workdir, "--tfds_classes=abc"], 2, "--tfds_classes=['abc']: must be a comma-separated list of integers"),
        ([workdir, "--no_such_flag=1"], 2, "no_such_flag"),
        ([workdir, "stray"], 2, "Unexpected arguments"),
        ([], 2, "--workdir is required"),
        ([f"--workdir={tmp_path / 'file' / 'run'}"], 1, "not writable"),
    ])
    assert not (tmp_path / "run").exists()


def _image(path, height=32, width=32, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_sample_program_keeps_every_output_and_refuses_bad_values(trained_workdir, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    for seed, name in enumerate(["a/x.png", "b/x.png", "x.jpg"]):
        _image(inputs / name, 8, 8, seed)
    common = [f"--model={trained_workdir}", f"--input={inputs}", f"--output_dir={out}"]
    _run_cases("srim_tf.cli.sample", "srim_sample", [
        ([*common, "--noise_scale=nan"], 2, "--noise_scale=nan: must be a finite number in [0, 10]"),
        ([*common, "--noise_scale=inf"], 2, "--noise_scale=inf"),
        ([*common, "--noise_scale=1e30"], 2, "--noise_scale=1e+30"),
        ([*common, "--tile_size=-1"], 2, "--tile_size=-1: must be an integer >= 0"),
        ([*common, "--overlap=-5"], 2, "--overlap=-5"),
        ([*common, "--num_samples=0"], 2, "--num_samples=0"),
        ([f"--output_dir={out}"], 2, "--input and --output_dir are required"),
        ([*common[1:], f"--model={tmp_path / 'nothing'}"], 1, "Unknown model"),
        ([*common, "--num_samples=2"], 0, None),
    ])
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["a/x_x4_s0.png", "a/x_x4_s1.png", "b/x_x4_s0.png", "b/x_x4_s1.png",
                       "x_x4_s0.png", "x_x4_s1.png"]
    # Each output is its own input's: a/x and b/x differ.
    assert not np.array_equal(np.asarray(Image.open(out / "a/x_x4_s0.png")),
                              np.asarray(Image.open(out / "b/x_x4_s0.png")))


def test_output_names_differ_by_extension_when_the_paths_would_collide():
    from srim_tf.cli.output_names import output_stems

    stems = output_stems(["in/a/x.png", "in/b/x.png", "in/x.jpg", "in/x.png"])
    assert stems == {"in/a/x.png": os.path.join("a", "x"), "in/b/x.png": os.path.join("b", "x"),
                     "in/x.jpg": "x_jpg", "in/x.png": "x_png"}
    assert output_stems(["photo.png"]) == {"photo.png": "photo"}
    with pytest.raises(ValueError, match="would write the same output files"):
        output_stems(["in/x_png.jpg", "in/x.png", "in/x.jpg"])


def test_eval_skips_unreadable_images_names_them_and_writes_what_it_measured(tmp_path):
    good, mixed = tmp_path / "Good", tmp_path / "Mixed"
    _image(good / "a.png")
    _image(mixed / "b.png", seed=1)
    (mixed / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _image(mixed / "tiny.png", 8, 8)
    report = tmp_path / "r.json"
    _run_cases("srim_tf.cli.eval", "srim_eval", [
        (["--hr_dir=" + str(good), "--num_samples=0"], 2, "--num_samples=0"),
        (["--hr_dir=" + str(good), "--tile_size=-1"], 2, "--tile_size=-1"),
        ([], 2, "--hr_dir is required"),
        ([f"--hr_dir={tmp_path / 'missing'}"], 1, "HR folder not found"),
        ([f"--hr_dir={mixed}", f"--hr_dir={good}", f"--json={report}"], 1, None),
    ])
    results = json.loads(report.read_text())
    assert [r["image"] for r in results["Mixed"]["per_image"]] == ["b.png"]
    assert sorted(r["image"] for r in results["Mixed"]["skipped"]) == ["broken.png", "tiny.png"]
    assert len(results["Good"]["per_image"]) == 1 and np.isfinite(results["Good"]["y_psnr"])


def test_export_program_refuses_bad_values_in_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    common = [f"--export_dir={tmp_path / 'out'}"]
    _run_cases("srim_tf.cli.export", "srim_export", [
        ([*common, "--workdir=pretrained", "--noise_scale=nan"], 2, "--noise_scale=nan"),
        ([*common, "--workdir=pretrained", "--max_request_pixels=0"], 2, "--max_request_pixels=0"),
        ([*common, "--workdir=pretrained", "--version=0"], 2, "--version=0"),
        (common, 2, "--workdir and --export_dir"),
        ([*common, f"--workdir={empty}"], 1, "No checkpoint found"),
    ])
    assert not (tmp_path / "out").exists()


# ---- memory of whole-image outputs --------------------------------------------------------

def test_contact_sheet_is_bounded_and_std_map_is_exact_in_bands():
    from srim_tf.inference import outputs

    rng = np.random.default_rng(0)
    samples = rng.integers(0, 256, (2, 5000, 300, 3), dtype=np.uint8)  # outputs of a 1250x75 input
    sheet = outputs.contact_sheet(rng.integers(0, 256, (1250, 75, 3), dtype=np.uint8), samples)
    # 5000 > 2048: panels shrunk by 3 (block means), bicubic input + 2 samples side by side.
    assert sheet.shape == (1666, 3 * 100, 3)
    block_mean = samples[1, :1666 * 3].reshape(1666, 3, 100, 3, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(sheet[:, 200:].astype(int) - np.round(block_mean)).max() <= 1
    expected = np.round(np.clip(samples.astype(np.float64).std(axis=0).mean(-1) / 32, 0, 1) * 255)
    assert np.abs(outputs.std_map(samples).astype(int) - expected).max() <= 1
    small = samples[:, :40, :32]
    assert outputs.contact_sheet(small[0, :10, :8], small).shape == (40, 96, 3)  # full size


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("sixteen_bit", [False, True])
def test_png_written_in_bands_decodes_to_the_same_pixels(tmp_path, channels, sixteen_bit):
    from srim_tf.data.image_io import write_png

    pixels = np.random.default_rng(channels).integers(0, 256, (150, 37, channels), dtype=np.uint8)
    write_png(str(tmp_path / "x.png"), pixels, sixteen_bit)
    decoded = tf.io.decode_png(tf.io.read_file(str(tmp_path / "x.png")), channels=0,
                               dtype=tf.uint16 if sixteen_bit else tf.uint8).numpy()
    np.testing.assert_array_equal(decoded, pixels.astype(np.uint16) * 257 if sixteen_bit else pixels)
    assert os.listdir(tmp_path) == ["x.png"]


def test_tiled_inference_refuses_values_that_gave_black_images(trained_workdir):
    from srim_tf.inference.tiling import super_resolve_image
    from srim_tf.inference.samplers import load_sampler

    sampler, image = load_sampler(trained_workdir), np.full((6, 5, 3), 100, np.uint8)
    for kwargs, match in [(dict(tile_size=-1), "tile_size=-1"), (dict(overlap=-5), "overlap=-5"),
                          (dict(noise_scale=float("nan")), "noise_scale=nan"),
                          (dict(num_samples=0), "num_samples=0")]:
        with pytest.raises(ValueError, match=match):
            super_resolve_image(sampler, image, **kwargs)
    assert super_resolve_image(sampler, image, tile_size=0).max() > 0
