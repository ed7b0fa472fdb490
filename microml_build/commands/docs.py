"""Renders the microml.yaml reference from the schema in `config.py`, so docs and validation cannot drift.

`python -m microml_build.commands.docs` prints the Markdown table that README.md embeds between
the `<!-- yaml-reference -->` markers; `python -m microml_build.commands.docs --write` rewrites that
block in README.md and docs/yaml.md. A test fails when either differs from the schema.
"""

from __future__ import annotations

from microml_build.config import REQUIRED, SCHEMA

BEGIN, END = "<!-- yaml-reference:begin -->", "<!-- yaml-reference:end -->"


def _default(key) -> str:
    if key.default is REQUIRED:
        return "**required**"
    if key.default is None:
        return "–"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    if key.default == {}:
        return "`{}`"
    return f"`{key.default}`"


def yaml_reference() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in SCHEMA:
        meaning = key.doc.replace("|", "\\|")
        if key.choices and len(key.choices) < 8:
            meaning += " One of: " + ", ".join(f"`{c}`" for c in key.choices) + "."
        if key.example:
            meaning += f" Example: `{key.example}`."
        rows.append(f"| `{key.path}` | {_default(key)} | {meaning} |")
    return "\n".join(rows)


def readme_block() -> str:
    return f"{BEGIN}\n{yaml_reference()}\n{END}"


YAML_PAGE_INTRO = """# `microml.yaml` reference

Generated from the schema in `microml_build/config.py` (`python -m microml_build.commands.docs --write`).
Relative paths are relative to the yaml file. Unknown keys are errors with a "did you mean";
every error names the file, the key and the fix.

"""


def replace_block(text: str) -> str:
    """`text` with its yaml-reference block replaced by the current one."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + readme_block() + text[end:]


def yaml_page() -> str:
    return YAML_PAGE_INTRO + readme_block() + "\n"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] == ["--write"]:
        root = Path(__file__).resolve().parent.parent.parent
        readme = root / "README.md"
        readme.write_text(replace_block(readme.read_text(encoding="utf-8")), encoding="utf-8")
        (root / "docs" / "yaml.md").write_text(yaml_page(), encoding="utf-8")
    else:
        print(readme_block())
