"""Copies the measured tables into README.md, so the README carries the figures of one run.

    python benchmarks/run.py            # writes benchmarks/results.md
    python benchmarks/model_table.py    # writes benchmarks/model_table.md
    python benchmarks/fixed_point.py    # writes benchmarks/fixed_point.md
    python benchmarks/update_readme.py  # copies both into README.md (and the model table into docs/models.md)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def section(markdown: str, heading: str) -> str:
    """The body of the `## heading...` section (up to the next `## `)."""
    match = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    if not match:
        raise SystemExit(f"no '## {heading}' section in benchmarks/results.md")
    return match.group(1).strip()


def replace(readme: str, marker: str, body: str) -> str:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    start, stop = readme.index(begin) + len(begin), readme.index(end)
    return readme[:start] + "\n" + body.strip() + "\n" + readme[stop:]


def main() -> None:
    results = (ROOT / "benchmarks" / "results.md").read_text(encoding="utf-8")
    command = re.search(r"^Command: (.*?)\s*$", results, re.M).group(1)
    peers = (f"Produced by {command} (full tables, toolchain versions and method: "
             "[benchmarks/results.md](benchmarks/results.md)).\n\n"
             + "### Headline: breast-cancer RBF SVC on the ATmega328P\n\n" + section(results, "Headline")
             + "\n\n### Every case against the best peer (ATmega328P)\n\n" + section(results, "Issue targets"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = replace(readme, "peer-benchmarks", peers)
    fixed = (ROOT / "benchmarks" / "fixed_point.md").read_text(encoding="utf-8")
    readme = replace(readme, "fixed-point", "\n".join(line for line in fixed.splitlines() if line.startswith("|")))
    table = (ROOT / "benchmarks" / "model_table.md").read_text(encoding="utf-8")
    readme = replace(readme, "model-table", table)
    (ROOT / "README.md").write_text(readme, encoding="utf-8")
    models = ROOT / "docs" / "models.md"
    models.write_text(replace(models.read_text(encoding="utf-8"), "model-table", table), encoding="utf-8")


if __name__ == "__main__":
    main()
