"""A small line writer for C, plus the literal and table helpers every emitter shares."""

from __future__ import annotations

import contextlib
import textwrap

import numpy as np

from microml_build.cnames import BYTES, comment_text

LINE_WIDTH = 100


class Prefix(str):
    """The C prefix of a model, as the emitters spell names with it.

    As a string it is the public prefix: `f"{p}_predict"`, the tables `f"{p}_weights"`, and through
    `p.upper()` the macros. `p.impl` prefixes the internal functions (`m_impl_leaf`, `m_impl_kernel`), so a
    reader tells the API from the internals by name: never a double underscore (reserved in C++) nor a
    leading one (reserved in C). `p.api` is the prefix of the header's public API, which comments refer to
    (`m` also where the emitter prints the head of a Pipeline under `m_impl_core`). From the plan: `p.inputs`
    says what each input of the head is, `p.classes` names the classes, and `p.annotate` says whether the
    entry-by-entry tables get a comment on each entry.
    """

    impl: str
    api: str
    inputs: tuple[str, ...]
    classes: tuple[str, ...]
    annotate: bool

    def __new__(cls, name: str, impl: str | None = None, inputs: tuple[str, ...] = (), annotate: bool = True,
                api: str | None = None, classes: tuple[str, ...] = ()):
        prefix = super().__new__(cls, name)
        prefix.impl = impl or f"{name}_impl"
        prefix.api = api or str(name)
        prefix.inputs = tuple(inputs)
        prefix.classes = tuple(str(c) for c in classes)
        prefix.annotate = annotate
        return prefix

    def input(self, j: int) -> str:
        """What input j of the head is (`x[6] radius`), `x[j]` when the plan does not say."""
        return self.inputs[j] if j < len(self.inputs) else f"x[{j}]"

    def input_list(self, columns) -> str:
        """The inputs a table's columns follow, for its comment: the first four, then the last."""
        names = [self.input(int(j)) for j in columns]
        return ", ".join(names[:4]) + (f", ... {names[-1]}" if len(names) > 4 else "")

    def label(self, c: int) -> str:
        """Class c as a comment names it: `1 (rain)`, or `1` when the plan gives no names."""
        return f"{c} ({self.classes[c]})" if c < len(self.classes) and self.classes[c] != str(c) else str(c)


class CWriter:
    """Collects lines with the current indentation (Jinja's CodeGenerator does the same)."""

    def __init__(self, indent: str = "    "):
        self.lines: list[str] = []
        self._indent = indent
        self._depth = 0
        self.table_bytes = 0      # flash taken by the tables written so far (`table` counts them)

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


class Float32Range(ValueError):
    """A model number beyond float32's range (|v| > 3.4e38), which no float table or literal can hold."""


def float_literal(value: float) -> str:
    """The shortest decimal that reads back as the same float32, with an `f` suffix."""
    with np.errstate(over="ignore"):
        f = np.float32(value)
    if not np.isfinite(f):
        raise Float32Range(f"{float(value)!r} does not fit in a float32")
    if f == 0:
        return "-0.0f" if np.signbit(f) else "0.0f"
    if 1e-4 <= abs(f) < 1e7:
        text = np.format_float_positional(f, unique=True, trim="0")
    else:
        text = np.format_float_scientific(f, unique=True, trim="0", exp_digits=1)
    return text + "f"


READ = {"int8_t": "(int8_t)MICROML_READ_U8", "uint8_t": "MICROML_READ_U8",
        "int16_t": "(int16_t)MICROML_READ_U16", "uint16_t": "MICROML_READ_U16",
        "int32_t": "(int32_t)MICROML_READ_U32", "uint32_t": "MICROML_READ_U32", "float": "MICROML_READ_FLOAT"}


def int_literal(value: int) -> str:
    """An integer constant; INT32_MIN spelled so that it is an int32, not a negated long."""
    return "(-2147483647 - 1)" if value == -2 ** 31 else str(int(value))


def _literal(ctype: str, hex_: bool):
    if ctype == "float":
        return float_literal
    if hex_:
        digits = 2 * BYTES[ctype]
        return lambda v: f"0x{int(v):0{digits}X}u"
    if ctype == "uint32_t":
        return lambda v: f"{int(v)}u"
    return int_literal


def table(w: CWriter, name: str, values, doc: str, ctype: str = "float", row_name: str = "", hex_: bool = False,
          packed: bool = False, notes=None, literal=None) -> int:
    """A `static const` table in flash, commented with its shape, meaning and size; returns (and counts) its bytes.

    `notes` (one per entry of a 1-D table, one per row of a 2-D one) says what each encodes: the entry or
    row is written on its own line, the note beside it (`0x3F000000u,  /* node 0: x[0] <= 0.5 ... */`).
    Without notes: `row_name` labels each wrapped row of a 2-D table (`/* support vector 3 */`); `hex_`
    writes uint32 bit patterns in hex; `packed` wraps the rows of a 2-D table as `{ a, b }` items, as
    many to a line as fit. `literal` spells a value (a constant expression that reads better than the number).
    """
    values = np.asarray(values)
    size = values.size * BYTES[ctype]
    dims = "".join(f"[{d}]" for d in values.shape)
    shape = " x ".join(str(d) for d in values.shape)
    literal = literal or _literal(ctype, hex_)
    w.comment(f"{doc} {shape} {ctype} = {size} bytes.")
    with w.block(f"static const {ctype} {name}{dims} MICROML_FLASH =", tail="};"):
        if notes is not None:
            _noted(w, values, literal, list(notes))
        elif packed:
            rows = values.reshape(-1, 1) if values.ndim == 1 else values
            items = [", ".join(literal(v) for v in row.tolist()) for row in rows]
            wrap(w, ["{ " + item + " }" for item in items] if values.ndim > 1 else items)
        else:
            _rows(w, values, literal, row_name)
    w.table_bytes += size
    return size


def _noted(w: CWriter, values: np.ndarray, literal, notes: list[str]) -> None:
    """One entry (or row) a line with its note beside it, the notes aligned; rows that do not fit one line with
    their notes are each wrapped under `{ /* note */`."""
    if len(notes) != len(values):
        raise ValueError(f"{len(notes)} notes for {len(values)} rows")
    rows = [[literal(v) for v in np.ravel(row).tolist()] for row in values]
    items = [row[0] if values.ndim == 1 else "{ " + ", ".join(row) + " }" for row in rows]
    texts = [comment_text(note, limit=200) for note in notes]
    indent = len(w._indent) * w._depth
    column = max(len(item) for item in items) + 1
    one_line = values.ndim == 1 or all(indent + column + len(t) + 8 <= LINE_WIDTH for t in texts)
    for row, item, text in zip(rows, items, texts):
        if one_line:
            w.line(f"{item + ',':<{column}}  /* {text} */")
            continue
        w.line(f"{{ /* {text} */")
        w._depth += 1
        wrap(w, row)
        w._depth -= 1
        w.line("},")


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
