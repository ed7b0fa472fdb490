"""The README's supported-model table covers every estimator in the registry."""

import importlib.util
from pathlib import Path

from microml_build.lower import LOWERINGS

TABLE = Path(__file__).resolve().parents[1] / "benchmarks" / "model_table.py"


def test_every_registered_estimator_has_an_example_row():
    spec = importlib.util.spec_from_file_location("model_table", TABLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {name for _, name in LOWERINGS} == set(module.EXAMPLES)


def test_a_table_row_is_built_verified_and_measured():
    spec = importlib.util.spec_from_file_location("model_table", TABLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells = module.row("LinearSVC")
    assert cells[0] == "`LinearSVC`" and cells[-1] == "agreement 569/569"
