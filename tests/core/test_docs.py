"""The yaml reference in README.md and docs/yaml.md is the one generated from the schema."""

from pathlib import Path

from microml_build.commands.docs import readme_block, yaml_page

ROOT = Path(__file__).resolve().parents[2]
FIX = "out of date: run `python -m microml_build.commands.docs --write`"


def test_readme_yaml_reference_matches_schema():
    assert readme_block() in (ROOT / "README.md").read_text(), f"README.md is {FIX}"


def test_docs_yaml_page_matches_schema():
    assert (ROOT / "docs" / "yaml.md").read_text() == yaml_page(), f"docs/yaml.md is {FIX}"
