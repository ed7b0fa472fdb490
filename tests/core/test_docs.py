"""The README's yaml reference is the one generated from the schema."""

from pathlib import Path

from microml_build.docs import readme_block

ROOT = Path(__file__).resolve().parents[2]


def test_readme_yaml_reference_matches_schema():
    assert readme_block() in (ROOT / "README.md").read_text(), \
        "README.md is out of date: paste the output of `python -m microml_build.docs`"
