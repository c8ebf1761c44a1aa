"""benchmarks/realesrgan.py: another tool's outputs start from srim_eval's LR and are read
back by srim_eval's folder method, grey images staying grey (Real-ESRGAN itself faked:
the package is an optional extra)."""

import importlib.util
import os

import numpy as np

from srim_tf.data.resize import bicubic_downsample
from srim_tf.evaluation import evaluate
from tests.helpers import ROOT, smooth_photo, write_image


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "realesrgan_benchmark", os.path.join(ROOT, "benchmarks", "realesrgan.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _NearestX4:
    """Stands in for `Realesrgan`: 4x nearest-neighbour upscaling of RGB PIL images."""

    def __init__(self):
        self.modes = []

    def process_pil(self, image):
        self.modes.append(image.mode)
        return image.resize((4 * image.width, 4 * image.height), 0)


def test_outputs_start_from_srim_evals_lr_and_are_measured_as_a_folder(tmp_path, rng):
    benchmark = _benchmark()
    hr_dir, out_dir = tmp_path / "hr", tmp_path / "out"
    hr_dir.mkdir()
    write_image(str(hr_dir / "colour.png"), smooth_photo(rng, 42, 50))  # cropped to 40 x 48
    write_image(str(hr_dir / "grey.png"), smooth_photo(rng, 40, 48, 1)[..., 0])
    model = _NearestX4()
    for name in ("colour.png", "grey.png"):
        hr, lr, grey = evaluate.hr_and_lr(str(hr_dir / name))
        expected_lr = np.round(bicubic_downsample(hr[None] / 255.0, 4).numpy()[0] * 255)
        np.testing.assert_array_equal(lr, expected_lr.astype(np.uint8))
        sr = benchmark.upscale(model, lr, grey)
        assert sr.shape == hr.shape  # 4x of the cropped HR, one channel for the grey image
        benchmark.write_png(str(out_dir / name), sr)
    assert model.modes == ["RGB", "RGB"]  # the grey LR is given as RGB
    results = evaluate.evaluate(f"folder:{out_dir}", [str(hr_dir)], show_progress=False)
    measured = results["hr"]
    # Both read back: a grey output written as RGB, or a size off the cropped HR, is skipped.
    assert not measured["skipped"] and len(measured["per_image"]) == 2


def test_with_a_degradation_it_upscales_the_lr_srim_eval_gives_models(tmp_path, rng):
    from srim_tf.data.degradations import degrade_for_evaluation

    hr_dir = tmp_path / "hr"
    (hr_dir / "sub").mkdir(parents=True)
    path = write_image(str(hr_dir / "sub" / "photo.png"), smooth_photo(rng, 40, 48))
    _, clean, _ = evaluate.hr_and_lr(path)
    lr, grey = _benchmark().evaluation_lr(path, str(hr_dir), "photo")
    np.testing.assert_array_equal(lr, degrade_for_evaluation(clean, "photo", "sub/photo.png"))  # as srim_eval
    assert not grey and np.any(lr != clean)
