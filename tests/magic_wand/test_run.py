"""benchmarks/magic_wand/run.py without running it: the goal it checks, and the README carrying its last results."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# Under its own name: "run" is also benchmarks/run.py's.
_spec = importlib.util.spec_from_file_location("magic_wand_run", ROOT / "benchmarks" / "magic_wand" / "run.py")
run = sys.modules["magic_wand_run"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)


class Figures:
    def __init__(self, flash, ram, stack, cycles, accuracy):
        self.figures = {"size": {"flash": flash}, "ram": ram, "stack": stack, "cycles": np.array(cycles),
                        "test": {"accuracy": accuracy}}


def test_the_goal_needs_tflm_and_every_budget():
    tflm = {"test": {"accuracy": 0.85}}
    met = Figures(16 * 1024, 800, 224, [100, 639_999], 0.85)
    assert all(ok for ok, _ in run.goal(met, tflm).values())
    # Without TFLM's figures the accuracy goal cannot be claimed.
    assert not run.goal(met, "tflite-micro is not installed")["accuracy"][0]
    for flash, ram, stack, cycles, accuracy, failed in (
            (16 * 1024 + 1, 800, 224, [1], 0.9, "flash"), (1000, 800, 225, [1], 0.9, "ram"),
            (1000, 800, 100, [640_000], 0.9, "cycles"), (1000, 800, 100, [1], 0.84, "accuracy")):
        checks = run.goal(Figures(flash, ram, stack, cycles, accuracy), tflm)
        assert [name for name, (ok, _) in checks.items() if not ok] == [failed]


def test_the_readme_shows_the_last_results():
    """README.md's magic_wand block is what `run.py --readme` copies from benchmarks/magic_wand/results.md."""
    results = (ROOT / "benchmarks" / "magic_wand" / "results.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- magic-wand:begin -->")[1].split("<!-- magic-wand:end -->")[0]
    assert block.strip() == run.readme_block(results).strip()
    assert "| **MicroML LinearSVC" in block and "| TFLM magic_wand.tflite" in block and "### The goal" in block
    assert (ROOT / "benchmarks" / "magic_wand" / "magic_wand.png").is_file()
