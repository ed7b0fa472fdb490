"""MicroML and the peer converters behind one interface: a fitted estimator in, C sources plus a wrapper out.

Every converter's output is wrapped into the same function,

    int bench_predict(const float *x);   /* class index of x[n_features] */

defined in its own translation unit (`bench_model.c`), so the firmware around it is identical
for every converter and the compiler cannot inline the model into the measuring loop. The
wrapper does only what a user of that converter has to write to get a class index: sign,
argmax or one-vs-one vote over m2cgen's scores, a class instance for micromlgen, the feature
count for emlearn.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class Unsupported(Exception):
    """The converter refuses this estimator (its own error, shortened)."""


class NotAvailable(Exception):
    """The converter is not installed, or does not run with the installed scikit-learn."""


@dataclass
class Port:
    lang: str                          # "c" or "c++": how the wrapper (and the firmware around it) is compiled
    files: dict[str, str]              # generated sources, written next to the wrapper
    wrapper: str                       # C/C++ source defining bench_predict()
    strict: bool = False               # -Wall -Wextra -Werror (MicroML); peers get -Wno-error
    include_dirs: list[Path] = field(default_factory=list)
    avr_shims: dict[str, str] = field(default_factory=dict)   # extra headers only the AVR build needs
    option: str = ""                   # which of the converter's options was used, for the notes
    raw_features: bool = False         # takes unscaled features (MicroML on a Pipeline)


EXTERN = """\
#ifdef __cplusplus
extern "C"
#endif
int bench_predict(const float *x);
"""


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _short(exc: BaseException, limit: int = 160) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Converter:
    name: str = ""
    dist: str = ""        # PyPI distribution
    lang: str = "c"

    @property
    def version(self) -> str | None:
        return _version(self.dist)

    suffix: str = ""
    call: str = ""        # how it is called, for the report

    @property
    def label(self) -> str:
        return (f"{self.name} {self.version}" if self.version else self.name) + self.suffix

    def port(self, estimator, n_features: int) -> Port:
        raise NotImplementedError


class MicroML(Converter):
    name, dist = "MicroML", "microml-build"
    call = "microml_build.lower.lower() + microml_build.emit.header.emit_header(), float32"

    def __init__(self, pipeline: bool = False, precision: str = "float", optimize: str = "balanced"):
        self.pipeline = pipeline
        self.precision = precision
        self.optimize = optimize
        if pipeline:
            self.suffix = " on the Pipeline (raw features)"
        elif precision != "float":
            self.suffix = f" {precision}"
            self.call = (f"microml_build.passes.precision.apply_precision(lower(), '{precision}', training rows) + "
                         "emit_header()")
        elif optimize != "balanced":
            self.suffix = f" optimize: {optimize}"
            self.call = f"lower() + plan(optimize='{optimize}') + emit_header(), float32"

    def port(self, estimator, n_features: int, X_train=None) -> Port:
        from microml_build.emit.header import emit_header
        from microml_build.errors import MicroMLError
        from microml_build.lower import lower
        from microml_build.passes.precision import apply_precision
        from microml_build.plan import plan

        names = tuple(f"feature_{i}" for i in range(n_features))
        try:
            model = apply_precision(lower(estimator), self.precision, X_train, names)
            emitted = emit_header(plan(model, optimize=self.optimize), name="m", file_name="model.h",
                                  provenance=[("Benchmark", "benchmarks/run.py")],
                                  feature_names=names)
        except MicroMLError as exc:
            raise Unsupported(_short(exc)) from None
        wrapper = '#include "model.h"\n' + EXTERN + "int bench_predict(const float *x)\n{\n    return m_predict(x);\n}\n"
        option = ("Pipeline(StandardScaler, SVC) lowered as one model" if self.pipeline else
                  f"target.precision: {self.precision}, the verified form `microml build` writes" if self.precision != "float"
                  else f"target.optimize: {self.optimize}" if self.optimize != "balanced" else "")
        return Port("c", {"model.h": emitted.text}, wrapper, strict=True, raw_features=self.pipeline, option=option)


class Micromlgen(Converter):
    name, dist, lang = "micromlgen", "micromlgen", "c++"
    call = ("port(clf, classname='Model'), C++ (avr-g++ on AVR); the wrapper includes <math.h> and <stdint.h> "
            "first (Arduino.h would), and on AVR a one-line <cstdarg> shim")

    def port(self, estimator, n_features: int) -> Port:
        try:
            import micromlgen
        except ImportError as exc:
            raise NotAvailable(f"not installed ({_short(exc)})") from None
        try:
            code = micromlgen.port(estimator, classname="Model")
        except Exception as exc:  # TypeError "clf MUST be one of", AssertionError for gamma, ...
            raise Unsupported(_short(exc)) from None
        # The generated code calls pow()/exp() and uses uint8_t without including <math.h> or
        # <stdint.h> (an Arduino sketch gets both from Arduino.h); predict() takes float*.
        wrapper = ("#include <math.h>\n#include <stdint.h>\n#include \"model.h\"\n" + EXTERN +
                   "int bench_predict(const float *x)\n{\n"
                   "    Eloquent::ML::Port::Model model;\n"
                   "    return model.predict(const_cast<float *>(x));\n}\n")
        # avr-g++ ships no C++ standard library headers, so <cstdarg> does not exist there.
        shim = "/* benchmark shim: avr-libc has no C++ headers */\n#include <stdarg.h>\n"
        return Port("c++", {"model.h": code}, wrapper, avr_shims={"cstdarg": shim}, option="")


class Emlearn(Converter):
    name, dist = "emlearn", "emlearn"
    call = "emlearn.convert(), C headers from emlearn.includedir"

    def port(self, estimator, n_features: int) -> Port:
        try:
            import emlearn
        except ImportError as exc:
            raise NotAvailable(f"not installed ({_short(exc)})") from None
        tree = type(estimator).__name__ in ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier")
        # Trees default to int16 features (thresholds truncated to integers), which silently breaks
        # on standardised features; emlearn's documented float option is method='inline', dtype='float'.
        kwargs = dict(method="inline", dtype="float") if tree else {}
        try:
            cmodel = emlearn.convert(estimator, **kwargs)
        except Exception as exc:
            raise Unsupported(_short(exc)) from None
        path = Path(emlearn.includedir)
        with tempfile.TemporaryDirectory() as tmp:
            cmodel.save(name="model", file=str(Path(tmp) / "model.h"))
            code = (Path(tmp) / "model.h").read_text()
        wrapper = ('#include <stdint.h>\n#include "model.h"\n' + EXTERN +
                   f"int bench_predict(const float *x)\n{{\n    return (int)model_predict(x, {n_features});\n}}\n")
        option = ("trees: convert(method='inline', dtype='float'), the documented float option (the default "
                  "int16_t features truncate thresholds to integers)" if tree else "MLP: convert() defaults (float)")
        return Port("c", {"model.h": code}, wrapper, include_dirs=[path], option=option)


class M2cgen(Converter):
    name, dist = "m2cgen", "m2cgen"
    call = ("export_to_c(), double (= float on AVR, so x is passed as is; widened into a double buffer "
            "elsewhere)")

    def port(self, estimator, n_features: int) -> Port:
        try:
            import m2cgen
        except ImportError as exc:
            raise NotAvailable(f"not installed ({_short(exc)})") from None
        try:
            code = m2cgen.export_to_c(estimator, function_name="score")
        except Exception as exc:  # NotImplementedError "Model 'X' is not supported"
            raise Unsupported(_short(exc)) from None
        classes = len(getattr(estimator, "classes_", ()))
        vector = "void score(double * input, double * output)" in code
        svc = type(estimator).__name__ in ("SVC", "NuSVC")
        # m2cgen takes double* and returns scores, never a class. On AVR double is float, so the
        # features are passed as they are; elsewhere they are widened into a double buffer.
        body = ["#if __SIZEOF_DOUBLE__ == __SIZEOF_FLOAT__",
                "    double *input = (double *)x;",
                "#else",
                f"    double input[{n_features}];",
                f"    for (int j = 0; j < {n_features}; j++)",
                "        input[j] = x[j];",
                "#endif"]
        if not vector:
            # One score: the decision value (> 0 means classes_[1]), as decision_function().
            body.append("    return score(input) > 0.0 ? 1 : 0;")
            how = "sign of score()"
        elif svc and classes > 2:
            # Multiclass SVC: m2cgen returns the one-vs-one decisions; vote as libsvm does.
            n_pairs = classes * (classes - 1) // 2
            body += [f"    double out[{n_pairs}];",
                     f"    int votes[{classes}] = {{0}};",
                     "    int pair = 0, best = 0;",
                     "    score(input, out);",
                     f"    for (int i = 0; i < {classes}; i++)",
                     f"        for (int j = i + 1; j < {classes}; j++, pair++)",
                     "            votes[out[pair] > 0.0 ? i : j]++;",
                     f"    for (int c = 1; c < {classes}; c++)",
                     "        if (votes[c] > votes[best])",
                     "            best = c;",
                     "    return best;"]
            how = "one-vs-one vote over score()"
        else:
            # Class scores or probabilities: argmax, first maximum wins (numpy's rule).
            body += [f"    double out[{classes}];",
                     "    int best = 0;",
                     "    score(input, out);",
                     f"    for (int c = 1; c < {classes}; c++)",
                     "        if (out[c] > out[best])",
                     "            best = c;",
                     "    return best;"]
            how = "argmax of score()"
        wrapper = ('#include "model.c"\n' + EXTERN + "int bench_predict(const float *x)\n{\n" +
                   "\n".join(body) + "\n}\n")
        return Port("c", {"model.c": code}, wrapper, option=f"wrapper: {how}")


class SklearnPorter(Converter):
    name, dist = "sklearn-porter", "sklearn-porter"
    call = "Porter(clf, language='c').export(embed_data=True)"

    def port(self, estimator, n_features: int) -> Port:
        try:
            from sklearn_porter import Porter
        except ImportError as exc:
            if self.version is None:
                raise NotAvailable("not installed") from None
            import sklearn
            raise NotAvailable(f"does not work with scikit-learn {sklearn.__version__} "
                               f"(pip installs it; import fails: {_short(exc)})") from None
        try:
            code = Porter(estimator, language="c").export(embed_data=True)
        except Exception as exc:
            raise Unsupported(_short(exc)) from None
        wrapper = ('#include "model.c"\n' + EXTERN +
                   "int bench_predict(const float *x)\n{\n    return predict((float *)x);\n}\n")
        return Port("c", {"model.c": code}, wrapper, option="")


PEERS = {"micromlgen": Micromlgen, "emlearn": Emlearn, "m2cgen": M2cgen, "sklearn-porter": SklearnPorter}
ALL = ["microml", *PEERS]


def converters(names: list[str]) -> list[Converter]:
    out = []
    for name in names:
        out.append(MicroML() if name == "microml" else PEERS[name]())
    return out


def raw_param_bytes(estimator) -> int | None:
    """float32 bytes of an SVC's parameters: support vectors, dual coefficients, intercepts."""
    if not hasattr(estimator, "support_vectors_"):
        return None
    return 4 * (np.size(estimator.support_vectors_) + np.size(estimator.dual_coef_) + np.size(estimator.intercept_))
