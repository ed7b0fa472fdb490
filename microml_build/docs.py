"""Renders the microml.yaml reference from the schema in `config.py`, so docs and validation cannot drift.

`python -m microml_build.docs` prints the Markdown table that README.md embeds between
the `<!-- yaml-reference -->` markers; a test fails when the two differ.
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


if __name__ == "__main__":
    print(readme_block())
