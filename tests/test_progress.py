"""Progress stays readable in a log file: off a terminal, a bounded number of short lines
instead of a bar redrawn with carriage returns into one line of kilobytes."""

import io
import sys

import numpy as np
from tqdm import tqdm

from srim_tf import progress
from srim_tf.evaluation import evaluate as evaluation
from tests.helpers import write_image

MAX_LINES = 100 // progress.LOG_EVERY_PERCENT + 1


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_into_a_log_file_is_a_few_short_lines_ending_with_the_total():
    log = io.StringIO()
    for _ in progress.bar(range(1000), desc="Set14", unit="image", file=log):
        pass
    lines = log.getvalue().splitlines()
    assert 2 <= len(lines) <= MAX_LINES, lines
    assert "\r" not in log.getvalue() and all(len(line) < 100 for line in lines), lines
    assert lines[-1].startswith("Set14: 1000/1000 images (100%), ") and "elapsed" in lines[-1]
    # tqdm itself, into the same kind of stream: what a log file got before.
    raw = io.StringIO()
    for _ in tqdm(range(1000), file=raw, mininterval=0):
        pass
    assert len(max(raw.getvalue().split("\n"), key=len)) > 1000  # one line, redrawn with carriage returns


def test_training_progress_resumes_at_its_step_and_carries_each_lines_values():
    log = io.StringIO()
    bar = progress.bar(total=300, initial=100, unit="step", file=log)
    for step in range(101, 301):
        bar.set_postfix(loss=f"{1 / step:.4g}")
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    # From 33% to 100%: a line per 5% crossed, none for the steps done before the resume.
    assert len(lines) == 14, lines
    assert lines[0].startswith("105/300 steps (35%)") and lines[0].endswith(f"loss={1 / 105:.4g}")
    assert lines[-1].startswith("300/300 steps (100%)") and lines[-1].endswith(f"loss={1 / 300:.4g}")


def test_stopped_work_gets_a_last_line_and_disabled_work_none():
    log = io.StringIO()
    bar = progress.bar(total=1000, file=log)
    bar.update(7)
    assert log.getvalue() == ""  # under 5% done
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("7/1000 its (0%), "), lines
    unknown = io.StringIO()  # no total: lines at 1, 2, 4, 8, ... done, and the last
    for _ in progress.bar(iter(range(50)), file=unknown):
        pass
    assert [line.split(" ")[0] for line in unknown.getvalue().splitlines()] == ["1", "2", "4", "8", "16", "32", "50"]
    quiet = io.StringIO()
    for _ in progress.bar(range(50), disable=True, file=quiet):
        pass
    assert quiet.getvalue() == ""


def test_a_terminal_gets_tqdms_bar():
    assert isinstance(progress.bar(range(3), file=_Terminal()), tqdm)
    assert isinstance(progress.bar(range(3), file=io.StringIO()), progress.LogLines)


def test_evaluation_progress_into_a_log_file_is_one_short_line_per_image_of_a_small_set(
        tmp_path, rng, monkeypatch):
    folder = tmp_path / "Tiny"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"im{i}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    evaluation.evaluate("bicubic", [str(folder)])
    lines = [line for line in log.getvalue().splitlines() if line.startswith("Tiny: ")]
    assert [line.split(",")[0] for line in lines] == [
        "Tiny: 1/3 images (33%)", "Tiny: 2/3 images (66%)", "Tiny: 3/3 images (100%)"], log.getvalue()
    assert "\r" not in log.getvalue()
