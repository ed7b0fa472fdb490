"""microml_kernel_exp, the RBF kernel's integer exp with gamma folded in: its constants, its error on the host for
several gammas, its edges, its bits and cycles on the ATmega328P, and the planner's choice between it and
microml_exp_neg."""

import math
import re
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from microml_build import toolchains
from microml_build.emit.helpers import FLASH
from microml_build.emit.svm import EXP_NEG_C, KERNEL_EXP_C, exp_constant
from microml_build.lower import lower
from microml_build.passes.compress import compress
from microml_build.plan import plan
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr
from model_check import host_parity
from support import need_simavr, need_tool

FLT_MIN = float(np.finfo(np.float32).tiny)
# Largest relative error of exp(-c d) for c = log2(e), measured over every float32 d in [0, 87.33654] (the file
# documents it); other gammas add the rounding of c to 32 bits, 2^-32 relative times y <= 126.
MAX_REL_ERROR = 1.08e-7 + 126 * 2.0 ** -32

PRELUDE = "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n" + FLASH.text + "\n"

HOST_MAIN = PRELUDE + KERNEL_EXP_C + """
/* argv: scale shift; raw float32 distances in on stdin, raw float32 out. */
int main(int argc, char **argv)
{
    const uint32_t scale = (uint32_t)strtoul(argv[1], NULL, 10);
    const int8_t shift = (int8_t)atoi(argv[2]);
    float d, k;
    (void)argc;
    while (fread(&d, sizeof d, 1, stdin) == 1) {
        k = microml_kernel_exp(d, scale, shift);
        fwrite(&k, sizeof k, 1, stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def host_exp(tmp_path_factory):
    need_tool("host")
    directory = tmp_path_factory.mktemp("kexp")
    (directory / "exp.c").write_text(HOST_MAIN.replace("#include <string.h>", "#include <string.h>\n#include <stdlib.h>"))
    exe = toolchains.compile([directory / "exp.c"], directory / "exp", target="host")

    def run(ds, gamma: float) -> np.ndarray:
        scale, shift = exp_constant(gamma)
        ran = subprocess.run([str(exe), str(scale), str(shift)], input=np.asarray(ds, np.float32).tobytes(),
                             capture_output=True, check=True)
        return np.frombuffer(ran.stdout, dtype=np.float32)
    return run


def test_constants_are_what_the_comments_say():
    block = KERNEL_EXP_C[KERNEL_EXP_C.index("microml_exp2_table[32] MICROML_FLASH = {"):]
    table = [int(v, 16) for v in re.findall(r"0x([0-9A-F]{8})UL", block[:block.index("};")])]
    assert table == [round(2 ** (31 - i / 32)) for i in range(32)]
    assert round(math.log(2) * 2 ** 21) == 22 * 2 ** 16 + 11843 and round(2 ** 16 / 6) == 10923
    for gamma in (1e-3, 1 / 30, 0.25, 1.0, 7.5):
        scale, shift = exp_constant(gamma)
        assert 2 ** 31 <= scale < 2 ** 32
        assert scale * 2.0 ** (shift - 31) == pytest.approx(gamma * math.log2(math.e), rel=2.0 ** -32)


@pytest.mark.parametrize("gamma", [1e-3, 1 / 30, 0.25, 1.0, 7.5])
def test_host_relative_error_on_a_dense_grid(gamma, host_exp):
    """A million distances up to where exp(-gamma d) leaves float32: within the bound, 0 beyond, never increasing."""
    ds = np.linspace(0.0, 90.0 / gamma, 1_000_001).astype(np.float32)
    got = host_exp(ds, gamma).astype(np.float64)
    exact = np.exp(-gamma * ds.astype(np.float64))
    normal = exact >= FLT_MIN * (1 + 1e-6)
    rel = np.abs(got[normal] - exact[normal]) / exact[normal]
    assert rel.max() <= MAX_REL_ERROR, float(ds[normal][np.argmax(rel)])
    assert (got[normal] >= FLT_MIN).all()
    assert (got[exact < FLT_MIN * (1 - 1e-6)] == 0).all()
    assert (np.diff(got) <= 0).all()


def test_host_edges(host_exp):
    ds = np.array([0.0, 1e-45, 1e-38, 1e-9, np.inf, np.nan, 3.4e38], dtype=np.float32)
    got = host_exp(ds, 0.25)
    assert got[:4].tolist() == [1.0, 1.0, 1.0, 1.0] and got[4:].tolist() == [0.0, 0.0, 0.0]


AVR_FIRMWARE = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"
#include <math.h>
{helpers}
static const uint32_t ds[{n}] PROGMEM = {{
{rows}
}};

int main(void)
{{
    uint32_t fast = 0, small = 0;
    harness_init();
    for (uint16_t i = 0; i < {n}; i++) {{
        const uint32_t bits = pgm_read_dword(&ds[i]);
        volatile float d, k;
        memcpy((float *)&d, &bits, sizeof bits);
        harness_cycles_start();
        k = microml_kernel_exp(d, {scale}UL, {shift});
        fast += harness_cycles_stop();
        printf("%08lx\\n", (unsigned long)harness_f32_bits(k));
        harness_cycles_start();
        k = microml_exp_neg(-{gamma}f * d);
        small += harness_cycles_stop();
    }}
    printf("cycles %lu %lu\\n", (unsigned long)(fast / {n}), (unsigned long)(small / {n}));
    harness_exit();
}}
"""


@pytest.mark.avr
@pytest.mark.simavr
def test_avr_gives_the_host_bits_in_half_the_cycles(host_exp, tmp_path):
    """The integer steps give the same bits on the ATmega328P; there they take under 1,400 cycles on average, half
    of what microml_exp_neg and the multiply by gamma take (the planner's figures, plan.KERNEL_EXP and EXP_NEG)."""
    need_tool("avr")
    need_simavr()
    gamma = 0.25
    ds = np.concatenate([np.linspace(0.0, 360.0, 400), [0.0, 1e-9, np.inf]]).astype(np.float32)
    bits = ds.view(np.uint32)
    rows = ",\n".join("    " + ", ".join(f"0x{b:08x}ul" for b in bits[i:i + 6]) for i in range(0, len(bits), 6))
    scale, shift = exp_constant(gamma)
    source = tmp_path / "fw.c"
    source.write_text(AVR_FIRMWARE.format(helpers=FLASH.text + "\n" + EXP_NEG_C + KERNEL_EXP_C, n=len(ds), rows=rows,
                                          scale=scale, shift=shift, gamma=gamma))
    elf = toolchains.compile([source, *HARNESS_SOURCES], tmp_path / "fw.elf", target="avr", include_dirs=[HARNESS_DIR])
    lines = [line for line in run_avr(elf, timeout=300).split("\n") if line.strip()]
    avr = np.array([int(v, 16) for v in lines[:-1]], dtype=np.uint32)
    np.testing.assert_array_equal(avr, host_exp(ds, gamma).view(np.uint32))
    fast, small = (int(v) for v in lines[-1].split()[1:])
    assert fast < 1400 and 2 * fast < small, (fast, small)


def _scaled(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_the_planner_takes_the_faster_exp_where_it_weighs_most():
    """Few features per support vector: the exp is a large share of a kernel's cycles, microml_kernel_exp pays for
    its flash; 30 features: microml_exp_neg. A packed or folded-scaler term costs more, shrinking the share."""
    Xi, yi = _scaled(load_iris)
    Xw, yw = _scaled(load_wine)
    Xb, yb = _scaled(load_breast_cancer)
    Xd, yd = _scaled(load_diabetes)
    assert plan(lower(SVC().fit(Xi, yi))).head.exp == "kernel_exp"
    assert plan(lower(SVC().fit(Xw, yw))).head.exp == "kernel_exp"
    assert plan(lower(SVR().fit(Xd, yd))).head.exp == "kernel_exp"
    assert plan(lower(SVC().fit(Xb, yb))).head.exp == "exp_neg"
    eighteen = lower(SVC().fit(Xb[:, :18], yb))      # 18 features: a float term tips it, a packed one does not
    assert plan(eighteen).head.exp == "kernel_exp"
    assert plan(compress(eighteen, "int16-vectors")).head.exp == "exp_neg"
    assert plan(lower(SVC(kernel="poly").fit(Xi, yi))).head.exp == ""
    assert plan(lower(SVC().fit(Xb, yb)), {"exp": "kernel_exp"}).head.exp == "kernel_exp"
    header_helpers = plan(lower(SVC().fit(Xi, yi))).helpers
    assert header_helpers == ("kernel_exp",)


@pytest.mark.parametrize("exp", ["kernel_exp", "exp_neg"])
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
def test_both_exps_keep_parity(dataset, exp):
    """Either exp, forced: every row equals scikit-learn (float32 near-ties excused), binary and one-vs-one."""
    X, y = _scaled(load_iris if dataset == "iris" else load_breast_cancer)
    est = SVC().fit(X, y)
    result = host_parity(est, X, prefer={"exp": exp})
    assert result.agree + len(result.near_ties) == len(X) and result.max_decision_error < 1e-5


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_clean_under_wconversion_on_a_64_bit_host(lang, tmp_path):
    """-Wconversion is common in firmware builds: no `unsigned long` constant narrowed into a uint32_t where long is
    64 bits (the helper computes mod 2^32 either way)."""
    need_tool("host", lang)
    (tmp_path / "exp.c").write_text(PRELUDE + KERNEL_EXP_C + "\nfloat f(float d) { return microml_kernel_exp(d, "
                                    "3000000000u, -2); }\n")
    done = subprocess.run(["gcc", "-x", lang, "-std=c99" if lang == "c" else "-std=c++11", "-Wall", "-Wextra",
                           "-Wconversion", "-Werror", "-c", "-o", str(tmp_path / "exp.o"), str(tmp_path / "exp.c")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
