"""Where training images come from: the `--data` string, parsed, and the files it names.

Sources (one string, comma-separated for several):
    folder:PATH           every png/jpg/jpeg/bmp/gif/webp under PATH, recursively;
    tfds:NAME[:SPLIT]     a TensorFlow Datasets dataset (`tfds_source.py`);
    builtin               the photographs that ship inside scikit-image and scikit-learn,
                          so the main job runs on a fresh machine with no data.
"""

import os

from srim_tf.data.image_io import IMAGE_EXTENSIONS

_BUILTIN_SKIMAGE = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                    "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg",
                    "retina.jpg", "ihc.png", "camera.png", "brick.png", "grass.png",
                    "gravel.png", "moon.png", "coins.png", "clock_motion.png", "page.png")
_BUILTIN_SKLEARN = ("china.jpg", "flower.jpg")


def parse_sources(sources):
    """Splits a source string into `[(kind, argument)]`, checking each."""
    parsed = []
    for source in filter(None, (s.strip() for s in sources.split(","))):
        kind, _, argument = source.partition(":")
        if kind == "builtin" and not argument:
            parsed.append(("builtin", None))
        elif kind in ("folder", "tfds") and argument:
            parsed.append((kind, argument))
        else:
            raise ValueError(
                "Unknown data source. Expected 'builtin', 'folder:PATH' or 'tfds:NAME[:SPLIT]',"
                f" comma-separated. Received: {source!r}")
    if not parsed:
        raise ValueError(f"No data source given. Received: data={sources!r}")
    return parsed


def builtin_paths():
    """Paths of the sample photographs installed with scikit-image and scikit-learn."""
    import skimage
    import sklearn

    skimage_dir = os.path.join(os.path.dirname(skimage.__file__), "data")
    sklearn_dir = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")
    paths = [os.path.join(skimage_dir, name) for name in _BUILTIN_SKIMAGE]
    paths += [os.path.join(sklearn_dir, name) for name in _BUILTIN_SKLEARN]
    return [path for path in paths if os.path.isfile(path)]


def folder_paths(folder):
    """Every image file under `folder`, recursively, sorted."""
    if not os.path.isdir(folder):
        raise ValueError(f"Image folder not found. Expected a directory. Received: folder:{folder}")
    paths = []
    for root, _, names in os.walk(folder):
        paths += [os.path.join(root, name) for name in names
                  if name.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(paths)
