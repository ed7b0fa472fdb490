"""The yaml reference in README.md and docs/yaml.md is the one generated from the schema."""

from pathlib import Path

from microml_build.commands.docs import readme_block, yaml_page

ROOT = Path(__file__).resolve().parents[2]
FIX = "out of date: run `python -m microml_build.commands.docs --write`"


def test_readme_yaml_reference_matches_schema():
    assert readme_block() in (ROOT / "README.md").read_text(), f"README.md is {FIX}"


def test_docs_yaml_page_matches_schema():
    assert (ROOT / "docs" / "yaml.md").read_text() == yaml_page(), f"docs/yaml.md is {FIX}"


def test_c_api_excerpts_are_cut_from_the_golden_headers():
    """docs/c-api.md "Reading a MicroML header": each excerpt's runs of lines (split at `...`) appear in its
    golden header (tests/emit/golden), in order, so the annotated examples cannot drift from the C."""
    import re

    text = (ROOT / "docs" / "c-api.md").read_text()
    excerpts = re.findall(r"<!-- excerpt: (\S+) -->\n```c\n(.*?)\n```", text, re.S)
    assert {name for name, _ in excerpts} >= {"tree_tables.h", "svc_rbf.h", "mlp.h", "fixed16_trees_code.h"}
    for name, body in excerpts:
        golden = (ROOT / "tests" / "emit" / "golden" / name).read_text().splitlines()
        position = 0
        for run in re.split(r"^\.\.\.$", body, flags=re.M):
            lines = run.strip("\n").splitlines()
            starts = [i for i in range(position, len(golden) - len(lines) + 1) if golden[i:i + len(lines)] == lines]
            assert starts, f"docs/c-api.md, excerpt of {name}: these lines are not in the golden header " \
                           f"(after line {position}):\n" + "\n".join(lines)
            position = starts[0] + len(lines)
