"""Names of srim_sample's outputs: one per input, never two inputs on one name."""

import collections
import os


def output_stems(paths):
    """`{input path: output stem}` that cannot collide; `ValueError` before any write if they would.

    A stem is the input's path relative to the folder all inputs share, without its
    extension (a/x.png -> a/x), so folder structure is kept in the output folder. Inputs
    that differ only by extension keep it too (x.png -> x_png, x.jpg -> x_jpg).
    """
    absolute = [os.path.abspath(p) for p in paths]
    root = os.path.dirname(absolute[0]) if len(absolute) == 1 else os.path.commonpath(
        [os.path.dirname(p) for p in absolute])
    stems = {p: os.path.splitext(os.path.relpath(a, root))[0] for p, a in zip(paths, absolute)}
    counts = collections.Counter(stems.values())
    for path, stem in stems.items():
        if counts[stem] > 1:
            stems[path] = f"{stem}_{os.path.splitext(path)[1].lstrip('.').lower()}"
    owners = collections.defaultdict(list)
    for path, stem in stems.items():
        owners[os.path.normcase(stem)].append(path)
    clashes = [names for names in owners.values() if len(names) > 1]
    if clashes:
        raise ValueError(f"Inputs {' and '.join(clashes[0])} would write the same output files;"
                         " rename one or run them separately.")
    return stems
