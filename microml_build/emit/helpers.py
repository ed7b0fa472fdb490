"""The C every MicroML header may share with the others in one firmware, each piece guarded by its version.

A helper (flash access, `microml_exp_neg`, `microml_kernel_exp`, `microml_quantize`) lives in a real file under
`microml_build/c/` and is pasted into every header that needs it, inside a guard on its version macro:
the first header of a translation unit defines it, a later one of the same version skips it, and one of
another version stops the compile with an `#error` that says what to do. Headers from before these
guards (guarded by name only) are caught too when they come first: their old guard is defined.

The version is the number of texts the helper has had: `hashes` lists the sha256 prefix of every text
it shipped with, oldest first, and a test (tests/emit/test_helpers.py) fails when the file's hash is not
the last one. A changed helper therefore cannot ship without a new version, and a header of the new
version never silently shares a translation unit with one of the old.
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from pathlib import Path

C_DIR = Path(__file__).resolve().parent.parent / "c"
DOCS = "docs/c-api.md#shared-helpers"


@dataclass(frozen=True)
class Helper:
    defines: str               # what it defines, for the comments and messages
    macro: str                 # its version macro
    legacy: str                # the macro that guarded it, by name only, before versions
    source: str                # its file in microml_build/c/
    hashes: tuple[str, ...]    # sha256 prefix of each text it shipped with, oldest first

    @property
    def text(self) -> str:
        return (C_DIR / self.source).read_text(encoding="utf-8")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    @property
    def version(self) -> int:
        return len(self.hashes)

    def c(self) -> str:
        """The helper as pasted into a header: its text inside the version guard."""
        v, m = self.version, self.macro
        return "\n".join([
            *_comment(f"{self.defines}, version {v}: shared by every MicroML header in the build, defined by the "
                      f"first one; a header needing another version stops the compile ({DOCS})."),
            f"#if !defined({m})",
            f"#if defined({self.legacy})",
            f'#error "A MicroML header older than this one defined {self.defines} without a version: regenerate '
            f'every MicroML header of this firmware with one microml_build version (microml build --force)"',
            "#endif",
            f"#define {m} {v}",
            self.text.rstrip("\n"),
            f"#elif {m} != {v}",
            f'#error "Two MicroML headers in this translation unit need different versions of {self.defines} '
            f'(this one has version {v}): regenerate every MicroML header of this firmware with one microml_build '
            f'version (microml build --force)"',
            "#endif",
        ])


def _comment(text: str) -> list[str]:
    lines = textwrap.wrap(text, width=96)
    return [f"/* {lines[0]}"] + [f" * {line}" for line in lines[1:]] + [" */"]


FLASH = Helper("MICROML_FLASH and MICROML_READ_*", "MICROML_FLASH_VERSION", "MICROML_FLASH", "flash.h",
               ("c921660a811d019b",))
EXP_NEG = Helper("microml_exp_neg()", "MICROML_EXP_NEG_VERSION", "MICROML_EXP_NEG", "exp_neg.c",
                 ("3d549e44498a34f8",))
KERNEL_EXP = Helper("microml_kernel_exp()", "MICROML_KERNEL_EXP_VERSION", "MICROML_KERNEL_EXP", "kernel_exp.c",
                    ("a87915967d8fd077", "a1b1fa34f4c4577d"))
QUANTIZE = Helper("microml_quantize()", "MICROML_QUANTIZE_VERSION", "MICROML_FIXED", "quantize.c",
                  ("4c01775a207501aa",))

# The helpers a plan may name (`Plan.helpers`), in the order a header pastes them after FLASH.
SHARED = {"exp_neg": EXP_NEG, "kernel_exp": KERNEL_EXP, "quantize": QUANTIZE}
