"""srim_eval's conventions reproduce published figures; its outputs and errors."""

import json
import time

import numpy as np
import pytest

from srim_tf.cli.eval import EvalSettings, evaluate_model
from srim_tf.evaluation import evaluate as evaluation
from srim_tf.inference.samplers import load_sampler
from tests.helpers import captured_stdout, shared_data, write_image


@pytest.mark.parametrize("name,psnr,ssim,psnr_tolerance", [
    ("Set5", 28.42, 0.8104, 0.02),
    # Published Set14 figures used mod-cropped copies: a few hundredths of a dB apart.
    # About 10 s: Set14's images are larger.
    pytest.param("Set14", 26.00, 0.7027, 0.05, marks=pytest.mark.slow),
])
def test_bicubic_reproduces_published_figures(name, psnr, ssim, psnr_tolerance):
    result = evaluation.evaluate("bicubic", [shared_data(name)], show_progress=False)[name]
    assert result["y_psnr"] == pytest.approx(psnr, abs=psnr_tolerance)
    assert result["y_ssim"] == pytest.approx(ssim, abs=0.002)


def _folder(tmp_path, rng, sizes):
    folder = tmp_path / "Tiny"
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        write_image(folder / f"im{i}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return str(folder)


def test_evaluation_writes_json_and_csv_with_all_keys_for_a_model(trained_workdir, tmp_path, rng):
    folder = _folder(tmp_path, rng, [(34, 41), (32, 32)])
    json_path, csv_path = str(tmp_path / "r.json"), str(tmp_path / "r.csv")
    with captured_stdout() as table:  # --thorough turns LPIPS on; a --num_samples given decides K
        results = evaluate_model(EvalSettings(model=trained_workdir, hr_dir=(folder,), thorough=True,
                                              num_samples=3, json=json_path, csv=csv_path))
    header = table.getvalue().splitlines()[2].split()
    assert header[:6] == ["set", "images", "Y-PSNR", "z=0", "mean", "of"] and "LPIPS" in header, header
    assert "Tiny" in table.getvalue() and "best_of_k_y_psnr" not in table.getvalue()
    wide = evaluation.table(results, 3, wide=True)
    assert all(key in wide for key in evaluation.KEYS), wide
    with open(json_path) as f:
        report = json.load(f)["Tiny"]
    assert report == json.loads(json.dumps(results))["Tiny"]  # what it returns is what it wrote
    for key in evaluation.KEYS:
        assert np.isfinite(report[key]), key
    assert len(report["per_image"]) == 2
    assert report["best_of_k_y_psnr"] >= report["y_psnr"]
    assert report["y_psnr"] == pytest.approx(np.mean([r["y_psnr"] for r in report["per_image"]]))
    with open(csv_path) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("set,image,y_psnr") and len(lines) == 1 + 2 + 1


def test_quick_by_default_thorough_one_flag_away_and_flags_given_decide():
    quick, thorough = EvalSettings(hr_dir=("Set5",)), EvalSettings(hr_dir=("Set5",), thorough=True)
    assert (quick.effective_num_samples, quick.effective_lpips) == (4, "none")
    assert (thorough.effective_num_samples, thorough.effective_lpips) == (10, "auto")
    given = EvalSettings(hr_dir=("Set5",), thorough=True, num_samples=2, lpips="vgg")
    assert (given.effective_num_samples, given.effective_lpips) == (2, "vgg")
    assert EvalSettings(hr_dir=("Set5",), lpips="alex").effective_num_samples == 4


def _every_key(textured, flat):
    """A set's means with every key of `KEYS` (stds in [0, 1]), as a model with LPIPS gives."""
    result = {key: 0.5 for key in evaluation.KEYS}
    result.update(diversity_std=0.0124, diversity_std_textured=textured, diversity_std_flat=flat,
                  y_psnr=28.3308, zero_noise_y_psnr=28.406, bicubic_y_psnr=28.4306, lpips=0.1499)
    return {**result, "per_image": [{}] * 5, "skipped": []}


def test_the_printed_table_fits_100_columns_with_stds_in_grey_levels_and_wide_has_every_key():
    results = {"Set5": _every_key(0.0241, 0.0052), "Urban100xx": _every_key(0.02, 0.01)}
    short = evaluation.table(results, 10).splitlines()
    assert max(len(line) for line in short) <= evaluation.SHORT_TABLE_COLUMNS, short
    assert "grey levels (0-255)" in short[1] and "K = 10 samples" in short[0]
    header, row = short[2], short[3].split()
    assert header.split()[:7] == ["set", "images", "Y-PSNR", "z=0", "mean", "of", "10"]
    # set, images, z = 0, mean, bicubic, SSIM, LPIPS, LPIPS div, LR-PSNR, std textured / flat
    assert row == ["Set5", "5", "28.41", "28.33", "28.43", "0.5000", "0.150", "0.5", "0.5", "6.1", "/", "1.3"]
    wide = evaluation.table(results, 10, wide=True).splitlines()
    assert "grey levels" in wide[0] and wide[1].split()[1:] == list(evaluation.KEYS)
    columns = dict(zip(wide[1].split(), wide[2].split()))
    assert float(columns["diversity_std"]) == pytest.approx(255 * 0.0124, abs=1e-4)
    assert float(columns["y_psnr"]) == pytest.approx(28.3308, abs=1e-4)


def test_other_methods_carry_bicubics_y_psnr_beside_theirs(tmp_path, rng):
    folder = _folder(tmp_path, rng, [(32, 36), (40, 40)])
    sr = tmp_path / "sr"
    sr.mkdir()
    for i, shape in enumerate([(32, 36, 3), (40, 40, 3)]):
        write_image(sr / f"im{i}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    bicubic = evaluation.evaluate("bicubic", [folder], show_progress=False)["Tiny"]
    other = evaluation.evaluate(f"folder:{sr}", [folder], show_progress=False)["Tiny"]
    assert "bicubic_y_psnr" not in bicubic  # its own y_psnr
    assert [r["bicubic_y_psnr"] for r in other["per_image"]] == pytest.approx(
        [r["y_psnr"] for r in bicubic["per_image"]], abs=1e-6)
    assert other["y_psnr"] < other["bicubic_y_psnr"]  # noise against the truth
    table = evaluation.table({"Tiny": other}).splitlines()
    assert table[1].split() == ["set", "images", "Y-PSNR", "bicubic", "SSIM", "LR-PSNR"]


def test_folder_method_matches_bicubic_outputs_and_refuses_mismatched_sizes(tmp_path, rng):
    folder = _folder(tmp_path, rng, [(32, 36)])
    sr = tmp_path / "sr"
    sr.mkdir()
    write_image(sr / "im0.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="Size mismatch: .*im0.png is 32x32x3"):
        evaluation.evaluate(f"folder:{sr}", [folder], show_progress=False)


def test_errors_name_the_folder_or_file(tmp_path, rng):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No images in HR folder .*empty"):
        evaluation.evaluate("bicubic", [str(empty)], show_progress=False)
    small = _folder(tmp_path, rng, [(12, 40)])
    with pytest.raises(ValueError, match="too small to evaluate: .*im0.png is 40x12"):
        evaluation.evaluate("bicubic", [small], show_progress=False)
    # 16-19 px passed the old check and then failed inside SSIM; now a named skip.
    for side in (16, 19):
        (tmp_path / str(side)).mkdir()
        edge = _folder(tmp_path / str(side), rng, [(side, 40), (20, 20)])
        result = evaluation.evaluate("bicubic", [edge], show_progress=False)["Tiny"]
        assert [r["image"] for r in result["per_image"]] == ["im1.png"]
        assert "at least 20x20" in result["skipped"][0]["error"]


def test_zero_noise_is_deterministic_and_samples_spread(trained_workdir, tmp_path, rng):
    folder = _folder(tmp_path, rng, [(32, 32)])
    sampler = load_sampler(trained_workdir)
    a = evaluation.evaluate(sampler, [folder], num_samples=2, seed=1, show_progress=False)["Tiny"]
    b = evaluation.evaluate(sampler, [folder], num_samples=2, seed=2, show_progress=False)["Tiny"]
    assert a["zero_noise_y_psnr"] == b["zero_noise_y_psnr"]
    assert a["diversity_std"] > 0


def test_sets_of_one_name_stay_apart_and_folder_outputs_match_by_relative_path(tmp_path, rng):
    def image(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        return path

    first, second = image(tmp_path / "a" / "Set" / "x.png"), image(tmp_path / "b" / "Set" / "y.png")
    results = evaluation.evaluate("bicubic", [str(first.parent), str(second.parent)], show_progress=False)
    assert sorted(len(r["per_image"]) for r in results.values()) == [1, 1]
    assert {r["per_image"][0]["image"] for r in results.values()} == {"x.png", "y.png"}
    # Two HR images of one name in subfolders: each is compared with its own SR image.
    hr = tmp_path / "hr"
    for sub in ("p", "q"):
        truth = image(hr / sub / "x.png")
        (tmp_path / "sr" / sub).mkdir(parents=True)
        (tmp_path / "sr" / sub / "x.png").write_bytes(truth.read_bytes())
    (tmp_path / "sr" / "x.png").write_bytes((hr / "p" / "x.png").read_bytes())  # a decoy
    result = evaluation.evaluate(f"folder:{tmp_path / 'sr'}", [str(hr)], show_progress=False)["hr"]
    assert [r["image"] for r in result["per_image"]] == ["p/x.png", "q/x.png"]
    assert all(r["y_psnr"] > 100 for r in result["per_image"])  # identical, not the decoy


def test_an_image_too_large_for_memory_is_skipped_by_name_and_the_rest_written(tmp_path, rng, monkeypatch):
    folder = _folder(tmp_path, rng, [(32, 32), (40, 40)])
    measure = evaluation._measure

    def out_of_memory_on_the_large_one(outputs, hr, lr, lpips_network=None):
        if hr.shape[0] == 40:
            raise MemoryError("Unable to allocate 1.4 GiB")
        return measure(outputs, hr, lr, lpips_network)

    monkeypatch.setattr(evaluation, "_measure", out_of_memory_on_the_large_one)
    result = evaluation.evaluate("bicubic", [folder], num_samples=10, show_progress=False)["Tiny"]
    assert [r["image"] for r in result["per_image"]] == ["im0.png"]
    assert result["skipped"][0]["image"] == "im1.png"
    # Bicubic has one output, whatever --num_samples says.
    assert result["skipped"][0]["error"] == "not enough memory to measure this image"
    sampler = load_sampler("pretrained")
    result = evaluation.evaluate(sampler, [folder], num_samples=10, show_progress=False)["Tiny"]
    assert "not enough memory to measure 10 samples of this image" in result["skipped"][0]["error"]


def test_an_image_a_graph_refuses_is_skipped_with_the_asserts_reason(tmp_path, rng, monkeypatch):
    import tensorflow as tf

    folder = _folder(tmp_path, rng, [(32, 32), (40, 40)])
    measure = evaluation._measure

    @tf.function
    def refuse(hr):
        tf.debugging.Assert(tf.shape(hr)[0] < 40, ["the model refuses images of 40 rows"])
        return hr

    def refused_by_a_graph_on_the_large_one(outputs, hr, lr, lpips_network=None):
        refuse(tf.constant(hr))
        return measure(outputs, hr, lr, lpips_network)

    monkeypatch.setattr(evaluation, "_measure", refused_by_a_graph_on_the_large_one)
    result = evaluation.evaluate("bicubic", [folder], num_samples=1, show_progress=False)["Tiny"]
    assert [r["image"] for r in result["per_image"]] == ["im0.png"]
    # The Assert's own words, not TensorFlow's "Graph execution error:" line.
    assert result["skipped"][0] == {"image": "im1.png", "error": "the model refuses images of 40 rows"}


def test_rows_measured_before_a_crash_are_in_the_reports(tmp_path, rng, monkeypatch):
    folder = _folder(tmp_path, rng, [(32, 32), (36, 36), (40, 40)])
    measure, measured = evaluation._measure, []

    def crash_at_the_third(outputs, hr, lr, lpips_network=None):
        measured.append(hr.shape)
        if len(measured) == 3:
            raise KeyboardInterrupt  # as a crash: nothing after it runs
        # Images that take a while, as real ones do: a rewrite costing over a tenth of the
        # time since the last is skipped, and these tiny ones are measured in milliseconds.
        time.sleep(0.5)
        return measure(outputs, hr, lr, lpips_network)

    monkeypatch.setattr(evaluation, "_measure", crash_at_the_third)
    report, table = tmp_path / "r.json", tmp_path / "r.csv"
    with captured_stdout(), pytest.raises(KeyboardInterrupt):
        evaluate_model(EvalSettings(model="bicubic", hr_dir=(folder,), lpips="none", json=str(report),
                                    csv=str(table)))
    rows = json.loads(report.read_text())["Tiny"]["per_image"]
    assert [r["image"] for r in rows] == ["im0.png", "im1.png"]
    assert [line.split(",")[1] for line in table.read_text().splitlines()[1:]] == ["im0.png", "im1.png", "MEAN"]
