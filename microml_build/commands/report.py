"""`microml report`: one self-contained HTML page about a model, to open or attach to a pull request.

It runs the same steps as `microml build` (nothing is written but the page) and shows the
dataset, the estimator, accuracy and agreement with scikit-learn, the confusion matrix, how
close the rows sit to the decision boundary (why float32 parity can flip a few), and the
model's flash and RAM against the target's budget. Plots need matplotlib (the `report`
extra); without it the page still renders, with tables only. Images are embedded as data
URIs, so the page is one file.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from pathlib import Path

import numpy as np

from microml_build.pipeline.build import Artifacts, Log, produce
from microml_build.pipeline.measure import describe_cost
from microml_build.config import load_config
from microml_build.ir import NEAR_TIE
from microml_build.pipeline.stamp import atomic_write, input_digest

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #176f2c; font-weight: 600; } .warn { color: #9a5b00; font-weight: 600; }
.note { color: #666; font-size: .9em; } img { max-width: 100%; }
"""


def _matplotlib():
    """pyplot with a file-only backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure_html(plt, fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list], numeric_from: int = 1) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="num"' if i >= numeric_from else ""
            cells.append(f"<td{cls}>{html.escape(str(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def boundary_margins(art: Artifacts) -> np.ndarray:
    """Each row's distance to the decision boundary, relative to float32 rounding's reach (1.0 = a near-tie)."""
    from microml_build.pipeline.verify import to_float32

    X = to_float32(np.concatenate([art.X_train, art.X_test]))
    values, scales = art.model.decisions(X)
    scales = np.maximum(scales, 1e-300)
    if values.shape[1] == 1 or getattr(art.model.head, "predict_index", None) is None:
        margin = np.min(np.abs(values) / scales, axis=1)
    else:
        order = np.sort(values, axis=1)
        margin = (order[:, -1] - order[:, -2]) / np.max(scales, axis=1)
    return margin / NEAR_TIE


def render(art: Artifacts, header_name: str) -> str:
    plt = _matplotlib()
    config, data, model = art.config, art.data, art.model
    sections = [f"<h1>MicroML report: {html.escape(config.name)}</h1>",
                f'<p>{html.escape(model.summary)} &rarr; <code>{html.escape(header_name)}</code>, '
                f'from <code>{html.escape(config.display(config.file))}</code>.</p>']
    if plt is None:
        sections.append('<p class="note">Plots are off: matplotlib is not installed '
                        "(<code>pip install microml-build[report]</code>).</p>")

    # Dataset
    sections.append("<h2>Dataset</h2>")
    sections.append(f"<p><code>{html.escape(data.source)}</code>: {len(data.X)} rows, {data.X.shape[1]} features, "
                    f"label <code>{html.escape(data.label_name)}</code>; {len(art.X_train)} rows trained on, "
                    f"{len(art.X_test)} held out.</p>")
    if model.task == "classifier":
        labels, counts = np.unique(data.y, return_counts=True)
        sections.append(_table(["class", "rows"], [[str(l), int(c)] for l, c in zip(labels, counts)]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # an all-missing column: its figures are nan
        rows = [[name, f"{lo:.4g}", f"{hi:.4g}", f"{mean:.4g}", int(missing)] for name, lo, hi, mean, missing in
                zip(data.feature_names, np.nanmin(data.X, 0), np.nanmax(data.X, 0), np.nanmean(data.X, 0),
                    np.isnan(data.X).sum(0))]
    sections.append("<details><summary>Feature ranges</summary>" +
                    _table(["feature", "min", "max", "mean", "missing"], rows) + "</details>")

    # Estimator
    sections.append("<h2>Estimator</h2>")
    sections.append(f"<p><code>{html.escape(model.estimator)}</code></p>")
    sections.append(_table(["parameter", "value"], [[k, v] for k, v in model.params.items()]))

    # Accuracy and agreement
    check = art.verification
    sections.append("<h2>Accuracy and agreement with scikit-learn</h2>")
    verdict = "ok" if check.agree == check.rows else "warn"
    sections.append(f"<p>{html.escape(art.score)} on the held-out split. The C header, compiled with "
                    f"<code>{html.escape(config.verify.compiler)}</code>, gives <span class=\"{verdict}\">"
                    f"{html.escape(check.summary)}</span> on all {check.rows} rows."
                    + ("" if art.model.lossy else
                       f" Largest difference of a decision value from scikit-learn's: {check.max_decision_error:.2e} "
                       "of its magnitude.") + "</p>")
    if "choice" in art.facts:
        sections.append(f"<p>target.precision: auto chose <code>{html.escape(art.model.lossy or 'float')}</code>: "
                        f"{html.escape(art.facts['choice'])}.</p>")

    if model.task == "classifier":
        sections.append("<h2>Confusion matrix (held-out split)</h2>")
        sections.append(_confusion(art, plt))
        sections.append("<h2>Distance to the decision boundary</h2>")
        sections.append(_margins(art, plt))

    sections.append("<h2>Flash and RAM</h2>")
    sections.append(_memory(art, plt))
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>MicroML report: {html.escape(config.name)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def _confusion(art: Artifacts, plt) -> str:
    labels = [str(l) for l in art.model.labels]
    index = {label: i for i, label in enumerate(art.model.labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for truth, guess in zip(art.y_test.tolist(), art.estimator.predict(art.X_test).tolist()):
        matrix[index[truth], index[guess]] += 1
    table = _table(["true \\ predicted"] + labels, [[labels[i]] + list(row) for i, row in enumerate(matrix)])
    if plt is None:
        return table
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(labels), 1 + 0.6 * len(labels)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, matrix[i, j], ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    return table + _figure_html(plt, fig, "confusion matrix")


def _margins(art: Artifacts, plt) -> str:
    margin = boundary_margins(art)
    nearest = np.sort(margin)[:10]
    text = (f"<p>For each row: how far scikit-learn's decision value sits from the boundary, in units of "
            f"what float32 rounding can move it (2<sup>-16</sup> of the terms' magnitude). Rows at or below "
            f"1 are near-ties: the C code, which computes in float32, may put them on the other side, and "
            f"verification reports them instead of failing. This model has "
            f"{int(np.sum(margin <= 1))} such rows; the nearest ten are at "
            f"{', '.join(f'{m:.3g}' for m in nearest)}.</p>")
    if plt is None:
        return text
    fig, ax = plt.subplots(figsize=(7, 3))
    finite = np.log10(np.clip(margin, 1e-3, None))
    ax.hist(finite, bins=40, color="#4a7bb7")
    ax.axvline(0, color="#c0392b", linestyle="--", label="float32 rounding reach")
    ax.set_xlabel("log10(distance to boundary / float32 rounding reach)")
    ax.set_ylabel("rows")
    ax.legend()
    return text + _figure_html(plt, fig, "decision margin histogram")


def _memory(art: Artifacts, plt) -> str:
    target = art.config.target
    fp = art.footprint
    facts = art.facts
    flash = fp.flash if fp else facts["tables"] + facts["code"]
    ram = (fp.ram + (fp.stack or 0)) if fp else None
    how = f"measured with the {fp.target} toolchain" if fp else "estimated by the plan (no toolchain)"
    rows = [["flash", flash, target.flash_budget or "–"], ["RAM + stack", ram if ram is not None else "–",
                                                             target.ram_budget or "–"]]
    text = f"<p>Figures {how}: {html.escape(describe_cost(facts))}. Model tables: {facts['tables']} bytes, all in flash.</p>"
    text += _table(["", "model (bytes)", "budget (bytes)"], rows)
    if fp and fp.cycles is not None:
        text += (f"<p>One inference on an ATmega328P (simavr, 16 MHz): {fp.cycles} cycles = "
                 f"{fp.cycles / 16e3:.2f} ms; peak stack {fp.stack} bytes.</p>")
    if plt is None:
        return text
    bars = [(name, value, budget) for name, value, budget in
            (("flash", flash, target.flash_budget), ("RAM + stack", ram, target.ram_budget))
            if value is not None and budget]
    if not bars:
        return text + '<p class="note">No budget: set target.board or target.budget to see the model against it.</p>'
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.6 * len(bars)))
    y = np.arange(len(bars))
    ax.barh(y, [100] * len(bars), color="#e8e8e8", label="budget")
    ax.barh(y, [100 * value / budget for _, value, budget in bars], color="#4a7bb7", label="model")
    for i, (_, value, budget) in enumerate(bars):
        ax.text(101, i, f"{value} / {budget} B", va="center")
    ax.set_yticks(y, [name for name, _, _ in bars])
    ax.set_xlim(0, 130)
    ax.set_xlabel("% of the budget")
    ax.legend(loc="lower right")
    return text + _figure_html(plt, fig, "flash and RAM against the budget")


def report(config_path: str | Path, output: str | Path | None = None, log: Log | None = None) -> Path:
    """Write the HTML report; returns its path (default: report.html next to the yaml)."""
    log = log or Log()
    config = load_config(config_path)
    out = Path(output).absolute() if output else config.root / f"{config.name}_report.html"
    art = produce(config, config.output.name, input_digest(config, {}), log)
    atomic_write(out, render(art, config.display(config.output)), what="report")
    log.info(f"Wrote {out}")
    return out
