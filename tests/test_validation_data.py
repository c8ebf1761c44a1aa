"""--validation_data: srim_train's validation/* summaries are computed on the images it names."""

import numpy as np
from PIL import Image

from srim_tf.training import loop as train
from tests.helpers import tiny_config


def test_validation_data_gives_the_loop_its_validation_images(tmp_path, monkeypatch):
    folder = tmp_path / "validation"
    folder.mkdir()
    colours = (30, 200)  # flat images, told apart from the builtin photos by their colour
    for colour in colours:
        Image.fromarray(np.full((40, 40, 3), colour, np.uint8)).save(folder / f"{colour}.png")
    seen = []
    validate = train._Run.validate
    monkeypatch.setattr(train._Run, "validate",
                        lambda run, validation, *args: seen.append(validation) or
                        validate(run, validation, *args))
    logs = train.train_and_evaluate(
        tiny_config(train_steps=1, checkpoint_every=1, image_summary_every=1,
                    validation_data=f"folder:{folder}"), str(tmp_path / "run"))
    assert np.isfinite(logs["validation/y_psnr_zero_noise"])
    (lr, _, hr), = seen
    assert hr.shape == (2, 32, 32, 3) and lr.shape == (2, 8, 8, 3)
    found = sorted(int(round(float(image.mean()) * 255)) for image in hr)
    assert found == list(colours)
    assert all(np.ptp(image) < 1e-6 for image in hr)  # flat: these images and no others


def test_validation_reports_the_deterministic_output_and_leaves_training_as_it_was(
        tmp_path, monkeypatch):
    """The loop's `validate` measures the z = 0 output itself, and neither it nor drawing the
    samples it shows moves the weights or the selection counter every later code is drawn
    from, so validating often trains exactly what validating rarely does."""
    from srim_tf.evaluation import metrics

    seen = []
    validate = train._Run.validate

    def watched(run, validation, *args):
        model = run.model
        before = ([w.copy() for w in model.generator.get_weights()],
                  int(model.selection_counter.numpy()))
        values = validate(run, validation, *args)
        after = (model.generator.get_weights(), int(model.selection_counter.numpy()))
        lr, _, hr = validation
        zero = model.super_resolve(lr, num_samples=1, noise_scale=0.0)[:, 0]
        seen.append((before, after, values, float(np.mean(metrics.y_psnr(zero, hr, border=4)))))
        return values

    monkeypatch.setattr(train._Run, "validate", watched)
    train.train_and_evaluate(tiny_config(train_steps=2, checkpoint_every=2, image_summary_every=1),
                             str(tmp_path / "run"))
    assert len(seen) == 2  # after each step
    for (weights, counter), (weights_after, counter_after), values, expected in seen:
        assert counter_after == counter
        for a, b in zip(weights, weights_after, strict=True):
            np.testing.assert_array_equal(a, b)
        assert abs(values["validation/y_psnr_zero_noise"] - expected) < 1e-4
