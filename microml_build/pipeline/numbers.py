"""How a CSV cell reads as a number: which mark is the decimal one is decided per file, from every cell.

A cell such as `1.453` has two readings: 1.453 (a decimal point) or 1453 (a thousands separator, as a
spreadsheet with decimal commas exports 1,453). Other cells have one: `1,5`, `0,453` and `1.001,5` can
only be decimal commas, `2.5`, `0.453` and `1,234,567` only decimal points. The file's convention is the
decimal comma when any numeric column shows one, else the decimal point (a file that never shows a
decimal comma reads `1.453` as 1.453). A column with both kinds of evidence, or with a decimal point in a
file of decimal commas, is refused by line and column: nothing is guessed.

Thousands separators are accepted when they are unambiguous: groups of exactly three digits after a first
group of one to three (not starting with 0), one separator character throughout the number, never in
scientific notation. Besides `.` and `,`, the separator may be a space, a no-break space (U+00A0, U+202F)
or an apostrophe (`1'453`, Swiss), which are never decimal marks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GROUPING = "'\u2019 \u00a0\u202f"          # separators that only ever group thousands
_CELL = re.compile(r"([-+]?)([0-9.,'\u2019 \u00a0\u202f]+)([eE][-+]?[0-9]+)?")
_DIGITS = re.compile(r"[0-9]*")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(?P<sep>[.,'\u2019 \u00a0\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*")
_NON_FINITE = re.compile(r"[-+]?(inf|infinity|nan)", re.IGNORECASE)
MARKS = (".", ",")
NAMES = {".": "decimal points", ",": "decimal commas"}


def readings(cell: str) -> dict[str, str]:
    """The cell's valid readings as `float()`-ready text, by decimal mark: {} when it is no number.

    `1.453` -> {'.': '1.453', ',': '1453.'}; `1,5` -> {',': '1.5'}; `12` -> both, equal.
    """
    if cell.isdigit() and cell.isascii():          # the common case, quickly
        return {".": cell, ",": cell}
    match = _CELL.fullmatch(cell)
    if not match or not any(c.isdigit() for c in match.group(2)):
        return {}
    sign, body, exponent = match.group(1), match.group(2), match.group(3) or ""
    found = {}
    for mark in MARKS:
        text = _reading(body, exponent, mark)
        if text is not None:
            found[mark] = sign + text
    return found


def _reading(body: str, exponent: str, mark: str) -> str | None:
    if body.count(mark) > 1:
        return None
    whole, _, fraction = body.partition(mark)
    if not _DIGITS.fullmatch(fraction) or not (whole or fraction):
        return None
    if not _DIGITS.fullmatch(whole):
        grouped = _GROUPED.fullmatch(whole)
        if exponent or grouped is None or grouped.group("sep") == mark:
            return None
        whole = re.sub(r"[^0-9]", "", whole)
    return f"{whole}.{fraction}{exponent}"


def evidence(found: dict[str, str]) -> str | None:
    """The decimal mark a cell proves ('.' or ','), or None when it proves nothing (no number, or either
    reading gives the same value, or it is ambiguous)."""
    if len(found) == 1:
        return next(iter(found))
    return None


def is_number(cell: str) -> bool:
    return bool(readings(cell))


def is_percentage(cell: str) -> bool:
    return cell.endswith("%") and is_number(cell[:-1].rstrip())


def is_non_finite(cell: str) -> bool:
    return _NON_FINITE.fullmatch(cell) is not None


@dataclass
class ColumnEvidence:
    """The first cell (line, text) of a column that proves each decimal mark, and whether every cell is a number."""

    first: dict[str, tuple[int, str]] = field(default_factory=dict)
    numeric: bool = True

    def add(self, cell: str, line: int, missing: tuple[str, ...]) -> None:
        if not cell or cell.lower() in missing:
            return
        if cell.endswith("%"):          # refused when read, but its decimal mark still tells the file's
            cell = cell[:-1].rstrip()
        if not ("." in cell or "," in cell):
            if self.numeric and not (cell.isdigit() or is_number(cell)):
                self.numeric = False
            return
        found = readings(cell)
        if not found:
            self.numeric = False
            return
        mark = evidence(found)
        if mark is not None and mark not in self.first:
            self.first[mark] = (line, cell)


def evidence_of(cells, lines: list[int], missing: tuple[str, ...]) -> ColumnEvidence:
    found = ColumnEvidence()
    for cell, line in zip(cells, lines):
        found.add(cell, line, missing)
    return found


def numeric_column(cells, missing: tuple[str, ...]) -> bool:
    """Every cell is a number (or a missing value) under one of the readings."""
    return all(not cell or cell.lower() in missing or is_number(cell) for cell in cells)


@dataclass(frozen=True)
class Convention:
    """The file's decimal mark and the cell that shows it (None: no cell did, so the decimal point)."""

    mark: str
    column: str | None = None
    line: int = 0
    cell: str = ""

    def witness(self) -> str:
        return f"column '{self.column}', line {self.line}: '{self.cell}'" if self.column else ""


def convention(columns: dict[str, ColumnEvidence]) -> Convention:
    """Decimal commas when any numeric column proves them (and does not also prove decimal points), else points."""
    for name, found in columns.items():
        if found.numeric and "," in found.first and "." not in found.first:
            line, cell = found.first[","]
            return Convention(",", name, line, cell)
    return Convention(".")
