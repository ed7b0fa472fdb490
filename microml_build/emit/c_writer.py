"""A small line writer for C, plus the literal and table helpers every emitter shares."""

from __future__ import annotations

import contextlib
import textwrap

import numpy as np

from microml_build.cnames import comment_text

LINE_WIDTH = 100


class CWriter:
    """Collects lines with the current indentation (Jinja's CodeGenerator does the same)."""

    def __init__(self, indent: str = "    "):
        self.lines: list[str] = []
        self._indent = indent
        self._depth = 0

    def line(self, text: str = "") -> None:
        self.lines.append(self._indent * self._depth + text if text else "")

    def comment(self, text: str) -> None:
        """A /* */ comment, wrapped to the line width."""
        width = LINE_WIDTH - len(self._indent) * self._depth - 3
        lines = textwrap.wrap(comment_text(text, limit=1000), width=width) or [""]
        if len(lines) == 1:
            self.line(f"/* {lines[0]} */")
            return
        self.line(f"/* {lines[0]}")
        for line in lines[1:]:
            self.line(f" * {line}")
        self.line(" */")

    @contextlib.contextmanager
    def block(self, head: str, tail: str = "}"):
        """`head {` ... `}`, with the body indented."""
        self.line(f"{head} {{" if head else "{")
        self._depth += 1
        yield
        self._depth -= 1
        self.line(tail)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def float_literal(value: float) -> str:
    """The shortest decimal that reads back as the same float32, with an `f` suffix."""
    f = np.float32(value)
    if not np.isfinite(f):
        raise ValueError(f"{value!r} does not fit in a float32")
    if f == 0:
        return "-0.0f" if np.signbit(f) else "0.0f"
    if 1e-4 <= abs(f) < 1e7:
        text = np.format_float_positional(f, unique=True, trim="0")
    else:
        text = np.format_float_scientific(f, unique=True, trim="0", exp_digits=1)
    return text + "f"


def int_type(max_value: int) -> str:
    """The smallest unsigned type holding 0..max_value: AVR is 8-bit, every byte of loop counter costs."""
    if max_value <= 0xFF:
        return "uint8_t"
    if max_value <= 0xFFFF:
        return "uint16_t"
    return "uint32_t"


C_TYPES = {"float": ("float", 4, float_literal), "uint8_t": ("uint8_t", 1, str), "uint16_t": ("uint16_t", 2, str)}


def table(w: CWriter, name: str, values: np.ndarray, doc: str, ctype: str = "float", row_name: str = "") -> None:
    """A `static const` table in flash, commented with its shape, meaning and size.

    `row_name` labels each wrapped row of a 2-D table (`/* support vector 3 */`) so a reader can count.
    """
    values = np.asarray(values)
    c_name, size, literal = C_TYPES[ctype]
    dims = "".join(f"[{d}]" for d in values.shape)
    shape = " x ".join(str(d) for d in values.shape)
    w.comment(f"{doc} {shape} {c_name} = {values.size * size} bytes.")
    with w.block(f"static const {c_name} {name}{dims} MICROML_FLASH =", tail="};"):
        _rows(w, values, literal, row_name)


def _rows(w: CWriter, values: np.ndarray, literal, row_name: str) -> None:
    if values.ndim == 1:
        wrap(w, [literal(v) for v in values.tolist()])
        return
    for index, row in enumerate(values):
        if row.ndim == 1:
            items = ", ".join(literal(v) for v in row.tolist())
            if len(items) + 8 + len(w._indent) * w._depth <= LINE_WIDTH:
                w.line("{ " + items + " },")
                continue
        w.line("{" + (f" /* {row_name} {index} */" if row_name else ""))
        w._depth += 1
        _rows(w, row, literal, "")
        w._depth -= 1
        w.line("},")


def wrap(w: CWriter, items: list[str]) -> None:
    """Comma-separated items, as many to a line as fit the width."""
    line = ""
    width = LINE_WIDTH - len(w._indent) * (w._depth + 1)
    for item in items:
        piece = item + ","
        if line and len(line) + 1 + len(piece) > width:
            w.line(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        w.line(line)
