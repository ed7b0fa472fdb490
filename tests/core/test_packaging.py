"""The wheel ships every subpackage and data file that `pip install` users need."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_python_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "microml_build").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    mapped = config["package-dir"]
    assert (ROOT / mapped["microml_build.cmake"] / "MicroMLConfig.cmake").is_file()
    assert (ROOT / mapped["microml_build.platformio_hook"] / "microml_pio.py").is_file()
