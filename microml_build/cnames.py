"""Everything user-provided that lands in C passes through here: identifiers are checked, strings escaped."""

from __future__ import annotations

import re

from microml_build.errors import MicroMLError

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
""".split())

CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm bitand bitor bool catch char8_t char16_t char32_t class compl concept consteval
constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast explicit export false
friend mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
reinterpret_cast requires static_assert static_cast template this thread_local throw true try typeid typename
using virtual wchar_t xor xor_eq
""".split())

# Names that standard headers or the Arduino core define as macros or functions: a prefix equal to one
# of them would silently clash.
RESERVED_NAMES = frozenset("main NULL EOF errno assert abs min max round exp log sin cos".split())

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_PREFIX = 40


def check_c_identifier(name: str, *, file: str | None = None, key: str | None = None) -> str:
    """Return `name` if it can prefix C names, else raise naming the rule it breaks."""
    fix = "use letters, digits and underscores, starting with a letter, e.g. cancer_svm"
    if not IDENTIFIER.match(name):
        raise MicroMLError(f"'{name}' is not a valid C identifier", file=file, key=key, fix=fix)
    if name in C_KEYWORDS or name in CPP_KEYWORDS:
        raise MicroMLError(f"'{name}' is a C/C++ keyword", file=file, key=key, fix=f"pick another name, e.g. {name}_model")
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise MicroMLError(f"'{name}' is reserved for the compiler (leading underscore)", file=file, key=key, fix=fix)
    if name in RESERVED_NAMES:
        raise MicroMLError(f"'{name}' clashes with a standard C name", file=file, key=key,
                           fix=f"pick another name, e.g. {name}_model")
    if len(name) > MAX_PREFIX:
        raise MicroMLError(f"'{name}' is longer than {MAX_PREFIX} characters", file=file, key=key,
                           fix="shorten it: every C name the header defines starts with it")
    return name


def c_string(text: str) -> str:
    """A C string literal for `text`: UTF-8 bytes, with anything outside printable ASCII as octal escapes.

    Octal (always three digits) rather than hex because a hex escape swallows following hex digits.
    `?` is escaped too so no trigraph can form.
    """
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def comment_text(text: str, limit: int = 200) -> str:
    """Text safe inside a /* */ comment on one line: printable ASCII (other characters as \\u escapes, so a
    column named `temp_°C` reads `temp_\\u00b0C`), no comment terminators."""
    safe = "".join(c if 0x20 <= ord(c) < 0x7F else "?" if ord(c) < 0xA0 else
                   f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in str(text))
    safe = safe.replace("*/", "* /").replace("/*", "/ *")
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def macro_suffix(label: str) -> str | None:
    """`"Iris-setosa"` -> `IRIS_SETOSA`, `10` -> `10`, or None when nothing usable remains.

    The suffix always follows `<NAME>_CLASS_`, so it may start with a digit; it never adds an
    underscore of its own, as a double underscore is reserved in C++.
    """
    text = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_").upper()
    return text[:48] or None


# C integer types: sizes, and the smallest unsigned type for a count (emitters and the planner share them).
BYTES = {"float": 4, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4}


def int_type(max_value: int) -> str:
    """The smallest unsigned type holding 0..max_value: AVR is 8-bit, every byte of loop counter costs."""
    if max_value <= 0xFF:
        return "uint8_t"
    if max_value <= 0xFFFF:
        return "uint16_t"
    return "uint32_t"
