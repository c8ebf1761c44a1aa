"""The training batch: named fields instead of tuples told apart by their length.

Every batch has `lr [B, h, w, 3]`, `mid [B, 2h, 2w, 3]` (the 2x target) and `hr
[B, 4h, 4w, 3]`; code reuse adds the chosen codes `z_lo, z_up`, and, when the pool keeps
them, the targets' features `hr_features`.
"""

BATCH_KEYS = ("lr", "mid", "hr")
CODE_KEYS = ("z_lo", "z_up")
FEATURES_KEY = "hr_features"


def as_batch(data):
    """A training batch as a dict with `BATCH_KEYS` (+ `CODE_KEYS`, + `FEATURES_KEY`).

    `(lr, mid, hr)` tuples (what `data.make_dataset` yields) become dicts.
    """
    if isinstance(data, (tuple, list)) and len(data) == 3:
        return dict(zip(BATCH_KEYS, data))
    if isinstance(data, dict):
        keys = set(data)
        allowed = (set(BATCH_KEYS), set(BATCH_KEYS + CODE_KEYS),
                   set(BATCH_KEYS + CODE_KEYS + (FEATURES_KEY,)))
        if keys in allowed:
            return data
        received = sorted(keys)
    else:
        received = f"{type(data).__name__} of {len(data) if isinstance(data, (tuple, list)) else 1}"
    raise ValueError("SRIM trains on (lr, mid, hr) tuples or dicts with the keys"
                     f" {list(BATCH_KEYS)}, optionally {list(CODE_KEYS)} and then"
                     f" {FEATURES_KEY!r}. Received: {received}")
