"""`<name>_label_copy()`: class names copied out of flash into a caller's buffer, on the host and on AVR.

On AVR `<name>_label()` points into program memory, so printing it with printf("%s") reads RAM; the copy
function is the portable way. Every index (in and out of range) and buffer size (0, cut, exact, larger)
is checked byte for byte, the bytes after the NUL included, against what the labels say.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from microml_build import toolchains
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr
from model_check import emit
from support import need_simavr, need_tool

# Quotes, a backslash, 2- and 3-byte UTF-8 characters (a copy cut short never splits one), the longest label allowed.
LABELS = ["a", 'say "hi"', "naïve\\x", "€uro", "x" * 64]

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "model.h"
#ifdef __AVR__
#include "avr_harness.h"
#endif

#define CAP (M_LABEL_SIZE + 2)
static const int sizes[] = {0, 1, 2, 3, 4, 5, M_LABEL_SIZE - 1, M_LABEL_SIZE, CAP};

int main(void)
{
#ifdef __AVR__
    harness_init();
#endif
    for (int index = -1; index <= M_N_CLASSES; index++) {
        for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            char buffer[CAP];
            memset(buffer, 'Z', sizeof buffer);
            const size_t length = m_label_copy(index, buffer, (size_t)sizes[s]);
            printf("%d %d %u ", index, sizes[s], (unsigned)length);
            for (int i = 0; i < CAP; i++) {
                printf("%02x", (unsigned)(unsigned char)buffer[i]);
            }
            printf("\n");
        }
    }
    printf("null %u\n", (unsigned)m_label_copy(0, NULL, 4));
#ifdef __AVR__
    harness_exit();
#endif
    return 0;
}
"""


def header() -> str:
    X = np.arange(len(LABELS) * 4, dtype=float).reshape(-1, 1)
    y = np.repeat(LABELS, 4)
    _, emitted = emit(DecisionTreeClassifier(random_state=0).fit(X, y))
    return emitted.text


def expected() -> list[str]:
    classes = sorted(LABELS)   # scikit-learn's classes_ order
    size = max(len(label.encode("utf-8")) for label in LABELS) + 1
    cap = size + 2
    lines = []
    for index in range(-1, len(classes) + 1):
        text = classes[index].encode("utf-8") if 0 <= index < len(classes) else b""
        for s in (0, 1, 2, 3, 4, 5, size - 1, size, cap):
            buffer = bytearray(b"Z" * cap)
            length = 0
            if s > 0:
                length = min(len(text), s - 1)
                if length < len(text) and text[length] & 0xC0 == 0x80:    # inside a character: drop all of it
                    while length > 0 and text[length - 1] & 0xC0 == 0x80:
                        length -= 1
                    length -= 1
                buffer[:length] = text[:length]
                buffer[length] = 0
            lines.append(f"{index} {s} {length} {buffer.hex()}")
    return lines + ["null 0"]


def test_label_size_macro_fits_the_longest_label():
    assert f"#define M_LABEL_SIZE {len('x' * 64) + 1}" in header()


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_label_copy_on_the_host(tmp_path, lang):
    need_tool("host", lang)
    (tmp_path / "model.h").write_text(header())
    (tmp_path / "main.c").write_text(PROGRAM)
    program = toolchains.compile([tmp_path / "main.c"], tmp_path / "labels", target="host", lang=lang)
    out = subprocess.run([str(program)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == expected()


@pytest.mark.avr
@pytest.mark.simavr
def test_label_copy_reads_flash_on_avr(tmp_path):
    need_tool("avr")
    need_simavr()
    text = header()
    assert "MICROML_FLASH =" in text and "m_label_text" in text   # the names are in PROGMEM on AVR
    (tmp_path / "model.h").write_text(text)
    (tmp_path / "main.c").write_text(PROGRAM)
    elf = toolchains.compile([tmp_path / "main.c", *HARNESS_SOURCES], tmp_path / "labels.elf", target="avr",
                             include_dirs=[HARNESS_DIR, tmp_path])
    assert run_avr(elf, timeout=60).splitlines() == expected()
