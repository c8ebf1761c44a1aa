"""TFLite export: the .tflite generator gives the Keras generator's output for the same noise."""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from srim_tf.cli.export import ExportSettings, export_model
from srim_tf.model.loading import load_generator
from srim_tf.serving.tflite import to_tflite
from tests.helpers import tiny_generator


def _inputs(rng, height, width, channels):
    return {"lr": rng.random((1, height, width, 3), dtype=np.float32),
            "z_lo": rng.standard_normal((1, 2 * height, 2 * width, channels)).astype(np.float32),
            "z_up": rng.standard_normal((1, 4 * height, 4 * width, channels)).astype(np.float32)}


def _run_tflite(flatbuffer, inputs):
    interpreter = Interpreter(model_content=flatbuffer)
    run = interpreter.get_signature_runner()
    return run(**inputs)["hr"]


@pytest.mark.parametrize("lr_size", [(6, 5), None], ids=["fixed", "dynamic"])
def test_tflite_matches_keras_for_the_same_noise(lr_size, rng):
    generator = tiny_generator(noise_channels=2)
    flatbuffer = to_tflite(generator, lr_size)
    inputs = _inputs(rng, 6, 5, 2)
    expected = generator([inputs["lr"], inputs["z_lo"], inputs["z_up"]]).numpy()
    output = _run_tflite(flatbuffer, inputs)
    assert output.shape == (1, 24, 20, 3)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    # The noise inputs are live: other codes, another image.
    other = dict(inputs, z_up=-inputs["z_up"])
    assert np.abs(_run_tflite(flatbuffer, other) - output).max() > 1e-3


def test_tflite_input_shapes_are_fixed_or_dynamic_as_asked():
    generator = tiny_generator(channels=4, num_convs=2, noise_channels=1)

    def shapes(flatbuffer):
        details = Interpreter(model_content=flatbuffer).get_input_details()
        return {d["name"].split("_", 2)[-1].split(":")[0]: list(d["shape_signature"]) for d in details}

    assert shapes(to_tflite(generator, (4, 3))) == {
        "lr": [1, 4, 3, 3], "z_lo": [1, 8, 6, 1], "z_up": [1, 16, 12, 1]}
    assert shapes(to_tflite(generator)) == {
        "lr": [1, -1, -1, 3], "z_lo": [1, -1, -1, 1], "z_up": [1, -1, -1, 1]}
    for bad in (["8"], ["0", "4"], ["a", "b"]):
        with pytest.raises(ValueError, match="height,width"):
            to_tflite(generator, bad)


def test_srim_export_writes_a_tflite_file_of_the_pretrained_model(tmp_path, rng):
    path = str(tmp_path / "srim.tflite")
    # srim_export's body (it prints the path it returns: test_programs_cli.py).
    assert export_model(ExportSettings(model="pretrained", tflite=path, tflite_lr_size=(8, 6))) == path
    generator = load_generator("pretrained").generator
    inputs = _inputs(rng, 8, 6, generator.settings.noise_channels)
    expected = generator([inputs["lr"], inputs["z_lo"], inputs["z_up"]]).numpy()
    with open(path, "rb") as f:
        output = _run_tflite(f.read(), inputs)
    np.testing.assert_allclose(output, expected, atol=1e-4)
