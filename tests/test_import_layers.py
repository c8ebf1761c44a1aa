"""The layout's rules, read from the code: which subpackage may import which.

Serving and inference load the generator and nothing of training (selection, the IMLE step,
the loop), so a server never pays for it and a change to training cannot break serving; no
library package reaches up into the programs (`cli`).
"""

import ast
import os
import subprocess
import sys

import srim_tf

PACKAGE_DIR = os.path.dirname(srim_tf.__file__)
# What each subpackage must never import (itself included, every module under it).
FORBIDDEN = {
    "srim_tf.inference": ("srim_tf.training", "srim_tf.cli", "srim_tf.serving", "srim_tf.evaluation"),
    "srim_tf.serving": ("srim_tf.training", "srim_tf.cli", "srim_tf.evaluation"),
    "srim_tf.model": ("srim_tf.training", "srim_tf.cli", "srim_tf.inference", "srim_tf.serving",
                      "srim_tf.evaluation"),
    "srim_tf.data": ("srim_tf.training", "srim_tf.cli", "srim_tf.model", "srim_tf.inference",
                     "srim_tf.serving", "srim_tf.evaluation"),
    "srim_tf.evaluation": ("srim_tf.training", "srim_tf.cli", "srim_tf.serving"),
    "srim_tf.training": ("srim_tf.cli", "srim_tf.serving"),
}


def _modules():
    """`{module name: path}` of every module in the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                relative = os.path.relpath(os.path.join(folder, name), os.path.dirname(PACKAGE_DIR))
                module = relative[:-3].replace(os.sep, ".")
                found[module.removesuffix(".__init__")] = os.path.join(folder, name)
    return found


def imported_modules(path, module):
    """Every `srim_tf...` module a file imports, at any depth of the file (functions too)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = module.split(".")[:-node.level] if not path.endswith("__init__.py") \
                    else module.split(".")[:len(module.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("srim_tf")}


def _under(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def test_no_subpackage_imports_what_the_layout_forbids():
    modules = _modules()
    assert len(modules) > 30 and "srim_tf.inference.sampling" in modules
    broken = []
    for module, path in modules.items():
        for package, forbidden in FORBIDDEN.items():
            if not _under(module, package):
                continue
            for name in imported_modules(path, module):
                broken += [f"{module} imports {name}" for prefix in forbidden if _under(name, prefix)]
    assert not broken, "\n".join(broken)


def test_the_import_reader_sees_imports_inside_functions(tmp_path):
    # The rule above is only as good as the reader: an import hidden in a function counts.
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from srim_tf.training import loop\n"
                      "    import srim_tf.cli.train\n")
    assert imported_modules(str(source), "srim_tf.inference.m") == {
        "srim_tf.training", "srim_tf.training.loop", "srim_tf.cli.train"}


def test_loading_inference_and_serving_never_imports_training():
    # A fresh interpreter: this test process has imported training already.
    script = ("import sys, srim_tf.inference.samplers, srim_tf.serving.saved_model,"
              " srim_tf.serving.tflite\n"
              "print(sorted(m for m in sys.modules if m.startswith('srim_tf')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert "srim_tf.inference.sampling" in loaded and "srim_tf.serving.saved_model" in loaded
    assert not [m for m in loaded if _under(m, "srim_tf.training") or _under(m, "srim_tf.cli")], loaded
