"""srim_sample's output names (`cli/output_names.py`): inputs whose names would collide get
distinct outputs, so every input's samples are kept."""

import os

import numpy as np
import pytest
from PIL import Image

from srim_tf.cli.output_names import output_stems
from tests.helpers import write_image


def test_output_names_differ_by_extension_when_the_paths_would_collide():
    stems = output_stems(["in/a/x.png", "in/b/x.png", "in/x.jpg", "in/x.png"])
    assert stems == {"in/a/x.png": os.path.join("a", "x"), "in/b/x.png": os.path.join("b", "x"),
                     "in/x.jpg": "x_jpg", "in/x.png": "x_png"}
    assert output_stems(["photo.png"]) == {"photo.png": "photo"}
    with pytest.raises(ValueError, match="would write the same output files"):
        output_stems(["in/x_png.jpg", "in/x.png", "in/x.jpg"])


def test_sampling_keeps_every_inputs_outputs_when_names_repeat_in_subfolders(trained_workdir, tmp_path):
    from srim_tf.cli.sample import SampleSettings, sample_images

    inputs, out = tmp_path / "in", tmp_path / "out"
    for seed, name in enumerate(["a/x.png", "b/x.png", "x.jpg"]):
        (inputs / name).parent.mkdir(parents=True, exist_ok=True)
        write_image(inputs / name, np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    written, failed = sample_images(SampleSettings(model=trained_workdir, input=(str(inputs),),
                                                   output_dir=str(out), num_samples=2))
    assert failed == [] and len(written) == 3
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert names == ["a/x_x4_s0.png", "a/x_x4_s1.png", "b/x_x4_s0.png", "b/x_x4_s1.png",
                     "x_x4_s0.png", "x_x4_s1.png"]
    # Each output is its own input's: a/x and b/x differ.
    assert not np.array_equal(np.asarray(Image.open(out / "a/x_x4_s0.png")),
                              np.asarray(Image.open(out / "b/x_x4_s0.png")))


def test_eval_skips_srim_sample_outputs_inside_an_hr_dir_by_name(trained_workdir, tmp_path):
    from srim_tf.cli.sample import SampleSettings, sample_images
    from srim_tf.evaluation import evaluate as evaluation

    hr = tmp_path / "HR"
    hr.mkdir()
    for seed in range(2):
        write_image(hr / f"im{seed}.png", np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    sample_images(SampleSettings(model=trained_workdir, input=(str(hr),), output_dir=str(hr / "sr"),
                                 num_samples=1))
    # A renamed output is known by the mark srim_sample writes in the PNG.
    os.rename(hr / "sr" / "im1_x4_s0.png", hr / "sr" / "renamed.png")
    result = evaluation.evaluate("bicubic", [str(hr)], num_samples=1, show_progress=False)["HR"]
    assert [r["image"] for r in result["per_image"]] == ["im0.png", "im1.png"]
    skipped = {r["image"]: r["error"] for r in result["skipped"]}
    assert sorted(skipped) == [os.path.join("sr", "im0_x4_s0.png"), os.path.join("sr", "renamed.png")]
    assert all("srim_sample output, not ground truth" in error for error in skipped.values())
