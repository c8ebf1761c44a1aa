"""One `load_generator(spec)` behind every program that reads a model: every folder any
program writes is accepted by every program that reads one, and gives the same model."""

import os

import numpy as np
import pytest

from srim_tf.cli.eval import EvalSettings, evaluate_model
from srim_tf.cli.export import ExportSettings, export_model
from srim_tf.cli.sample import SampleSettings, sample_images
from srim_tf.inference.samplers import load_sampler
from srim_tf.model.loading import load_generator
from srim_tf.training.loop import train_and_evaluate
from tests.helpers import captured_stdout, smooth_photo, tiny_config, write_image

KINDS = ("workdir", "checkpoints folder", "checkpoint prefix", "pretrained folder",
         "SavedModel base", "SavedModel version")


@pytest.fixture(scope="module")
def written(trained_workdir, tmp_path_factory):
    """`{kind: path}` of every kind of model folder the programs write, all of one model."""
    out = tmp_path_factory.mktemp("written")
    pretrained = export_model(ExportSettings(model=trained_workdir, pretrained_dir=str(out / "pre")))
    version = export_model(ExportSettings(model=trained_workdir, export_dir=str(out / "served")))
    checkpoints = os.path.join(trained_workdir, "checkpoints")
    return {"workdir": trained_workdir, "checkpoints folder": checkpoints,
            "checkpoint prefix": os.path.join(checkpoints, "ckpt-2"), "pretrained folder": pretrained,
            "SavedModel base": str(out / "served"), "SavedModel version": version}


@pytest.mark.parametrize("kind", KINDS)
def test_load_generator_reads_every_kind_as_the_same_model(kind, written):
    reference = load_generator(written["workdir"]).generator.get_weights()
    loaded = load_generator(written[kind])
    assert loaded.generator.settings.channels == 8 and loaded.description
    assert all(np.array_equal(a, b) for a, b in zip(reference, loaded.generator.get_weights()))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sampling_evaluation_export_and_fine_tuning_take_every_kind(kind, written, tmp_path, rng):
    spec = written[kind]
    photo = write_image(tmp_path / "photo.png", smooth_photo(rng, 12, 10))
    # srim_sample and srim_eval: the same samples whatever the kind.
    lr = smooth_photo(rng, 6, 5)[None].astype(np.float32) / 255
    expected = load_sampler(written["workdir"])(lr, 2, 3, 1.0)
    np.testing.assert_allclose(load_sampler(spec)(lr, 2, 3, 1.0), expected, atol=1e-5)
    written_paths, failed = sample_images(SampleSettings(model=spec, input=(photo,),
                                                         output_dir=str(tmp_path / "out")))
    assert written_paths == [photo] and not failed
    hr_dir = tmp_path / "hr"
    hr_dir.mkdir()
    write_image(hr_dir / "truth.png", smooth_photo(rng, 32, 24))
    with captured_stdout() as table:
        results = evaluate_model(EvalSettings(model=spec, hr_dir=(str(hr_dir),), num_samples=1,
                                              lpips="none"))
    assert len(results["hr"]["per_image"]) == 1 and not results["hr"]["skipped"]
    assert "hr" in table.getvalue()
    # srim_export: from any kind, to a pretrained folder.
    again = export_model(ExportSettings(model=spec, pretrained_dir=str(tmp_path / "again")))
    assert load_generator(again).generator.settings == load_generator(spec).generator.settings
    # srim_train --init_from: a new run starts from its weights.
    workdir = str(tmp_path / "tuned")
    train_and_evaluate(tiny_config(train_steps=1, checkpoint_every=1, image_summary_every=1,
                                   learning_rate=1e-12, init_from=spec), workdir)
    tuned = load_generator(workdir).generator.get_weights()
    source = load_generator(written["workdir"]).generator.get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(tuned, source)) < 1e-6


def test_an_unknown_name_says_what_is_accepted(tmp_path):
    with pytest.raises(ValueError, match="No model found. Expected 'pretrained', 'pretrained_psnr',"
                                         " 'pretrained_photos', a pretrained folder.*Received: .*nowhere"):
        load_generator(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"\(--model\)"):
        load_sampler(str(tmp_path / "nowhere"))


def test_a_foreign_saved_model_is_one_clear_error(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "foreign"))
    with pytest.raises(ValueError, match="does not record its generator's settings"):
        load_generator(str(tmp_path / "foreign"))


@pytest.mark.parametrize("kind,edit", [
    ("workdir", lambda config: config.update(channels="8")),
    ("pretrained folder", lambda config: config["generator"].update(channels="8")),
    ("pretrained folder", lambda config: config.update(generator="8 channels")),
])
def test_a_hand_edited_config_is_refused_in_one_line_naming_the_file(written, tmp_path, kind, edit):
    import json
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(written[kind], folder)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    edit(config)
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"{config_path}.*(channels must be an integer|not a pretrained)"):
        load_generator(str(folder))
