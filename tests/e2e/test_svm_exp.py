"""microml_exp_neg, the RBF kernel's exp: its coefficients, its error on the host and on AVR, headers sharing it,
and predict()'s sign tests on the float bits."""

import math
import re
import struct
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, NuSVC

from microml_build import toolchains
from microml_build.toolchains.avr_sim import HARNESS_DIR, HARNESS_SOURCES, run_avr
from microml_build.emit.svm import EXP_NEG_C, KERNEL_EXP_C
from model_check import CROSS_PARAMS, emit
from support import need_simavr, need_tool

# Below this float32 (the smallest one above -126 ln 2) exp(x) is under FLT_MIN: the helper returns 0.
FLUSH = np.float32(-87.33654)
FLT_MIN = np.finfo(np.float32).tiny
# Largest relative error over every float32 in [FLUSH, 0], measured exhaustively (documented in exp_neg.c).
MAX_REL_ERROR = 1.82e-7

PRELUDE = """\
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
"""

# Raw float32 in on stdin, raw float32 out: a million points in one process.
HOST_MAIN = PRELUDE + EXP_NEG_C + """
int main(void)
{
    float x, y;
    while (fread(&x, sizeof x, 1, stdin) == 1) {
        y = microml_exp_neg(x);
        fwrite(&y, sizeof y, 1, stdout);
    }
    return 0;
}
"""


def remez_exp(n_coefficients: int = 4, half_width: float = math.log(2) / 2, iterations: int = 20):
    """c2..c(n+1) of 1 + r + r^2 (c2 + c3 r + ...) with minimax relative error to e^r on [-a, a]; and that error.

    The relative error is w(r) (q(r) - g(r)) with g = (e^r - 1 - r) / r^2 and weight w = r^2 / e^r, so this is
    the Remez exchange for q against g with weight w (g summed as a series: no cancellation near r = 0, where
    w vanishes and no reference point may sit). Converges in 4 iterations from Chebyshev-like points.
    """
    a, n = half_width, n_coefficients
    grid = np.linspace(-a, a, 200_000)          # even count: no point at 0

    def g(r):
        return sum(r ** (k - 2) / math.factorial(k) for k in range(2, 20))

    def w(r):
        return r * r / np.exp(r)

    points = a * np.cos(np.linspace(np.pi, 0, n + 2)[:-1] + 0.1)
    for _ in range(iterations):
        signs = (-1.0) ** np.arange(n + 1)
        A = np.hstack([points[:, None] ** np.arange(n), -(signs / w(points))[:, None]])
        c = np.linalg.solve(A, g(points))[:n]
        err = w(grid) * (np.polyval(c[::-1], grid) - g(grid))
        runs = np.split(np.arange(len(grid)), np.flatnonzero(np.diff(np.sign(err))) + 1)
        extrema = [run[np.argmax(np.abs(err[run]))] for run in runs]
        while len(extrema) > n + 1:   # keep the alternating set with the larger ends
            extrema = extrema[1:] if abs(err[extrema[0]]) < abs(err[extrema[-1]]) else extrema[:-1]
        points = grid[extrema]
    return c, float(np.abs(err).max())


def emitted_coefficients() -> list[float]:
    """c2..c5 as written in the C helper's Horner line."""
    line = next(line for line in EXP_NEG_C.splitlines() if line.strip().startswith("q = (("))
    c5, c4, c3, c2 = (float(np.float32(v)) for v in re.findall(r"([0-9.]+(?:e-?[0-9]+)?)f", line))
    return [c2, c3, c4, c5]


def compile_host_exp(directory, extra_flags=()):
    """microml_exp_neg built for the host (strict flags, as toolchains builds everything): float32 array in, out."""
    need_tool("host")
    (directory / "exp.c").write_text(HOST_MAIN)
    exe = toolchains.compile([directory / "exp.c"], directory / "exp", target="host", extra_flags=extra_flags)

    def run(xs) -> np.ndarray:
        ran = subprocess.run([str(exe)], input=np.asarray(xs, np.float32).tobytes(), capture_output=True, check=True)
        return np.frombuffer(ran.stdout, dtype=np.float32)
    return run


@pytest.fixture(scope="module")
def host_exp(tmp_path_factory):
    return compile_host_exp(tmp_path_factory.mktemp("exp"))


def test_coefficients_are_the_remez_minimax_polynomial():
    c, error = remez_exp()
    assert error == pytest.approx(1.046e-7, rel=1e-3)
    assert emitted_coefficients() == [float(np.float32(v)) for v in c]


def test_host_relative_error_on_a_dense_grid(host_exp):
    """A million points over [-88, 0] against float64 exp: within the documented bound, 0 below FLUSH."""
    xs = np.linspace(-88.0, 0.0, 1_000_001).astype(np.float32)
    got = host_exp(xs).astype(np.float64)
    exact = np.exp(xs.astype(np.float64))
    normal = xs >= FLUSH
    rel = np.abs(got[normal] - exact[normal]) / exact[normal]
    assert rel.max() <= MAX_REL_ERROR, float(xs[normal][np.argmax(rel)])
    assert (got[normal] >= FLT_MIN).all()            # no subnormal or zero result above the flush point
    assert (got[~normal] == 0).all()
    assert (np.diff(got) >= 0).all()                 # xs ascend: exp never decreases (a nearer SV never weighs less)


EDGES = {
    "zero": (0.0, 1.0),
    "negative zero": (-0.0, 1.0),
    "smallest subnormal": (-1.4e-45, 1.0),
    "FLT_MIN": (-float(FLT_MIN), 1.0),
    "tiny": (-1e-10, 1.0),
    "half ulp of 1": (-2.0 ** -25, None),
    "ln 2": (-math.log(2), None),
    "flush point": (float(FLUSH), None),
    "-87.3": (-87.3, None),
    "just below flush": (float(np.nextafter(FLUSH, np.float32(-np.inf))), 0.0),
    "-88": (-88.0, 0.0),
    "-1000": (-1000.0, 0.0),
    "-inf": (-math.inf, 0.0),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_host_edges(name, host_exp):
    x, expected = EDGES[name]
    x32 = float(np.float32(x))
    got = float(host_exp([x32])[0])
    if expected is not None:
        assert got == expected and math.copysign(1, got) == 1
    else:
        assert got >= FLT_MIN
        assert abs(got - math.exp(x32)) / math.exp(x32) <= MAX_REL_ERROR


def test_host_default_nan_gives_nan(host_exp):
    assert math.isnan(host_exp([np.nan])[0])


def test_fast_math_falls_back_to_expf(tmp_path):
    """-ffast-math folds the rounding trick away; the helper then calls expf() and stays right."""
    xs = np.linspace(-80.0, 0.0, 10_001).astype(np.float32)
    got = compile_host_exp(tmp_path, extra_flags=["-ffast-math"])(xs).astype(np.float64)
    exact = np.exp(xs.astype(np.float64))
    assert (np.abs(got - exact) / exact).max() < 1e-6


AVR_FIRMWARE = """\
#include <avr/pgmspace.h>
#include "avr_harness.h"
#include <math.h>
{helper}
static const uint32_t xs[{n}] PROGMEM = {{
{rows}
}};

int main(void)
{{
    harness_init();
    for (uint16_t i = 0; i < {n}; i++) {{
        const uint32_t bits = pgm_read_dword(&xs[i]);
        float x;
        memcpy(&x, &bits, sizeof x);
        printf("%08lx\\n", (unsigned long)harness_f32_bits(microml_exp_neg(x)));
    }}
    harness_exit();
}}
"""


@pytest.mark.avr
@pytest.mark.simavr
def test_avr_soft_float_gives_the_host_bits(host_exp, tmp_path):
    """avr-libc's soft float rounds like the host's IEEE hardware: bit-identical results on ATmega328P."""
    need_tool("avr")
    need_simavr()
    xs = np.concatenate([np.linspace(-88.0, 0.0, 1500), [0.0, -0.0, -1e-10, float(FLUSH), -1000.0, -np.inf]])
    xs = xs.astype(np.float32)
    bits = xs.view(np.uint32)
    rows = ",\n".join("    " + ", ".join(f"0x{b:08x}ul" for b in bits[i:i + 6]) for i in range(0, len(bits), 6))
    source = tmp_path / "fw.c"
    source.write_text(AVR_FIRMWARE.format(helper=EXP_NEG_C, n=len(xs), rows=rows))
    elf = toolchains.compile([source, *HARNESS_SOURCES], tmp_path / "fw.elf", target="avr",
                             include_dirs=[HARNESS_DIR])
    lines = run_avr(elf, timeout=300).split()
    avr = np.array([int(v, 16) for v in lines], dtype=np.uint32)
    assert len(avr) == len(xs)
    np.testing.assert_array_equal(avr, host_exp(xs).view(np.uint32))


def _scaled(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# Four headers in one translation unit: three call microml_exp_neg (SVC, NuSVC one-vs-one, SVR), one does not.
def _models():
    Xb, yb = _scaled(load_breast_cancer)
    Xi, yi = _scaled(load_iris)
    Xd, yd = _scaled(load_diabetes)
    # Trained on 100 rows: all four must fit the ATmega328P's 32 KB together.
    return {"bc": SVC().fit(Xb[:100], yb[:100]), "iris": NuSVC(nu=0.3).fit(Xi, yi),
            "reg": SVR().fit(Xd[:100], yd[:100]), "lin": LinearSVC().fit(Xi, yi)}


SHARED_MAIN = """\
#include "bc.h"
#include "iris.h"
#include "reg.h"
#include "lin.h"

float x_bc[BC_N_FEATURES], x_iris[IRIS_N_FEATURES], x_reg[REG_N_FEATURES];
volatile float sink;

int main(void)
{
    sink = (float)bc_predict(x_bc) + (float)iris_predict(x_iris) + reg_predict_value(x_reg)
         + (float)lin_predict(x_iris);
    return 0;
}
"""


@pytest.mark.parametrize("target,lang", CROSS_PARAMS)
def test_several_headers_share_the_helper_in_one_translation_unit(target, lang, tmp_path):
    need_tool(target, lang)
    for name, est in _models().items():
        _, emitted = emit(est, name=name)
        helpers = emitted.text.count("#define MICROML_EXP_NEG") + emitted.text.count("#define MICROML_KERNEL_EXP")
        assert helpers == (0 if name == "lin" else 1), name
        assert "expf(" not in emitted.text.replace(EXP_NEG_C, "").replace(KERNEL_EXP_C, ""), name
        (tmp_path / f"{name}.h").write_text(emitted.text)
    (tmp_path / "main.c").write_text(SHARED_MAIN)
    elf = toolchains.compile([tmp_path / "main.c"], tmp_path / f"fw-{target}-{lang}.elf", target=target, lang=lang,
                             include_dirs=[tmp_path])
    assert elf.exists()


def test_only_rbf_kernels_paste_the_helper():
    X, y = _scaled(load_iris)
    for kernel, pasted in [("rbf", True), ("poly", False), ("sigmoid", False), ("linear", False)]:
        _, emitted = emit(SVC(kernel=kernel).fit(X, y), prefer={"exp": "exp_neg"})
        assert (EXP_NEG_C in emitted.text) is pasted, kernel
        assert KERNEL_EXP_C not in emitted.text
        assert "expf(" not in emitted.text.replace(EXP_NEG_C, ""), kernel


# predict() tests decision >= 0 (two classes) and decision > 0 (the vote) on the float's bits.
SPECIAL = [-math.inf, -1.0, -1.4e-45, -0.0, 0.0, 1.4e-45, 1.0, math.inf, math.nan, -math.nan, 3.4e38, -3.4e38]

SIGN_MAIN = PRELUDE + """
int main(void)
{{
    uint32_t bits;
    float decision;
    while (fread(&decision, sizeof decision, 1, stdin) == 1) {{
        memcpy(&bits, &decision, sizeof bits);
        printf("%d %d %d %d\\n", ({binary}) ? 1 : 0, decision >= 0.0f, ({vote}) ? 1 : 0, decision > 0.0f);
    }}
    return 0;
}}
"""


def test_predict_sign_tests_on_the_bits_equal_float_compares(tmp_path):
    need_tool("host")
    X, y = _scaled(load_iris)
    binary = emit(SVC().fit(X, (y == 0).astype(int)))[1].text
    vote = emit(SVC().fit(X, y))[1].text
    binary_test = re.search(r"return (.*) \? 1 : 0;", binary[binary.index("int m_predict"):]).group(1)
    vote_test = re.search(r"votes\[(.*) \? i : j\]\+\+;", vote).group(1)
    (tmp_path / "sign.c").write_text(SIGN_MAIN.format(binary=binary_test, vote=vote_test))
    exe = toolchains.compile([tmp_path / "sign.c"], tmp_path / "sign", target="host")
    values = [struct.pack("<f", v) for v in SPECIAL] + [struct.pack("<I", 0xFFC00001), struct.pack("<I", 0x7F800001)]
    out = subprocess.run([str(exe)], input=b"".join(values), capture_output=True, check=True).stdout.decode()
    for value, line in zip(values, out.splitlines()):
        bits_ge, float_ge, bits_gt, float_gt = line.split()
        assert (bits_ge, bits_gt) == (float_ge, float_gt), value.hex()
    assert len(out.splitlines()) == len(values)
