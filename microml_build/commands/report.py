"""`microml report`: one self-contained HTML page about a model, to open or attach to a pull request.

It runs the same steps as `microml build` (nothing is written but the page) and shows the
dataset, the estimator, accuracy and agreement with scikit-learn, the confusion matrix and how
close the rows sit to the decision boundary (why float32 parity can flip a few) for classifiers,
predicted against true values for regressors, and the model's flash and RAM against the target's
budget (a model over it is shown with how far over, not refused). Plots need matplotlib (the `report`
extra); without it the page still renders, with tables only. Images are embedded as data
URIs, so the page is one file.
"""

from __future__ import annotations

import base64
import html
import io
import re
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
    values, scales = art.lowered.decisions(X)
    scales = np.maximum(scales, 1e-300)
    if values.shape[1] == 1 or getattr(art.lowered.head, "predict_index", None) is None:
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
    target = config.target
    sections.append(f"<p>Target <code>{html.escape(target.mcu)}</code>"
                    + (f", board <code>{html.escape(target.board)}</code>" if target.board else "")
                    + f"; precision <code>{html.escape(target.precision)}</code>; optimize "
                    f"<code>{html.escape(target.optimize)}</code>.</p>")
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
    if data.window is not None:
        sections.append(_windows(art, plt))
    else:
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
    else:
        sections.append("<h2>Predicted vs true (held-out split)</h2>")
        sections.append(_predicted_vs_true(art, plt))

    sections.append("<h2>Flash and RAM</h2>")
    sections.append(_memory(art, plt))
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>MicroML report: {html.escape(config.name)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


TRACES_PER_CLASS = 3


def _windows(art: Artifacts, plt) -> str:
    """Windows of raw samples: a few traces per class, the channels' ranges, and the window features the chip
    computes with their ranges (and the model's importance of each, when it has one)."""
    from microml_build.ir.features import WindowStage, input_stage

    data = art.data
    length, channels = data.window
    names = data.channel_names
    W = data.X.reshape(len(data.X), length, channels)
    out = [f"<p>Each row is a window of {length} samples x {channels} channels ({html.escape(', '.join(names))}), "
           f"flattened interleaved: x[t * {channels} + c].</p>"]
    out.append(_table(["channel", "min", "max", "mean"], [[name, f"{W[:, :, c].min():.4g}", f"{W[:, :, c].max():.4g}",
                                                           f"{W[:, :, c].mean():.4g}"] for c, name in enumerate(names)]))
    classes = list(np.unique(data.y)) if art.model.task == "classifier" else []
    if plt is not None and classes:
        fig, axes = plt.subplots(len(classes), 1, figsize=(8, 1.6 * len(classes) + 0.4), sharex=True, squeeze=False)
        for ax, label in zip(axes[:, 0], classes):
            for k, row in enumerate(np.flatnonzero(data.y == label)[:TRACES_PER_CLASS]):
                for c, name in enumerate(names):
                    ax.plot(W[row, :, c], color=f"C{c}", alpha=1.0 - 0.25 * k, lw=1,
                            label=name if k == 0 else None)
            ax.set_ylabel(str(label))
        axes[0, 0].legend(loc="upper right", ncol=channels, fontsize="small")
        axes[-1, 0].set_xlabel("sample")
        out.append(f"<p>The first {TRACES_PER_CLASS} windows of each class, raw:</p>")
        out.append(_figure_html(plt, fig, "raw windows per class"))
    stage = input_stage(art.model)
    if isinstance(stage, WindowStage):
        from microml_build.pipeline.verify import to_float32

        F = stage.apply(to_float32(data.X))
        final = art.estimator.steps[-1][1] if hasattr(art.estimator, "steps") else None
        importance = getattr(final, "feature_importances_", None)
        header = ["window feature (computed on the chip)", "min", "max", "mean"]
        if importance is not None and len(importance) == stage.n_all:
            header.append("importance")
        rows = []
        for j, (name, index) in enumerate(zip(stage.names(), stage.computed)):
            row = [name, f"{F[:, j].min():.4g}", f"{F[:, j].max():.4g}", f"{F[:, j].mean():.4g}"]
            if len(header) == 5:
                row.append(f"{importance[index]:.3f}")
            rows.append(row)
        out.append(f"<p>The model reads {len(stage.computed)} of the {stage.n_all} window features; the header "
                   "computes only those:</p>")
        out.append(_table(header, rows))
    return "\n".join(out)


def _confusion(art: Artifacts, plt) -> str:
    labels = [str(l) for l in art.model.labels]
    index = {label: i for i, label in enumerate(art.model.labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for truth, guess in zip(art.y_test.tolist(), art.held_out.predict(art.X_test).tolist()):
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


HISTOGRAM_COLOUR = "#7b4fa3"    # distinct colours, so a test can find each plot's marks in a screenshot
SCATTER_COLOUR = "#d9822b"
MODEL_COLOUR, OVER_COLOUR, BUDGET_COLOUR = "#4a7bb7", "#c0392b", "#e8e8e8"


def _margins(art: Artifacts, plt) -> str:
    margin = boundary_margins(art)
    nearest = np.sort(margin)[:10]
    text = (f"<p>For each row: how far scikit-learn's decision value sits from the boundary, in units of "
            f"what float32 rounding can move it (2<sup>-16</sup> of the terms' magnitude). Rows at or below "
            f"1 are near-ties: the C code, which computes in float32, may put them on the other side, and "
            f"verification reports them instead of failing. This model has "
            f"{int(np.sum(margin <= 1))} such rows; the nearest ten are at "
            f"{', '.join(f'{m:.3g}' for m in nearest)}.</p>")
    if art.config.target.precision != "float":
        text += (f"<p class=\"note\">This header computes in {html.escape(art.config.target.precision)} integers, "
                 "not float32: its agreement with scikit-learn (above) is measured, and a row may differ wherever "
                 "quantizing the inputs and weights moves it across the boundary, not only at these near-ties. "
                 "The margins show how close the rows sit to scikit-learn's boundary.</p>")
    if plt is None:
        return text
    return text + _figure_html(plt, margin_figure(plt, margin), "decision margin histogram")


def margin_figure(plt, margin: np.ndarray):
    """Histogram of log10(margin), its bins spread over the whole visible axis (which always shows 0, the
    near-tie line), so rows in a narrow band still make a bar wider than a pixel."""
    values = np.log10(np.clip(margin, 1e-3, None))
    low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    if high - low < 1.0:
        low, high = low - 0.5, high + 0.5
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(values, bins=np.linspace(low, high, 41), color=HISTOGRAM_COLOUR)
    ax.axvline(0, color=OVER_COLOUR, linestyle="--", label="float32 rounding reach")
    ax.set_xlim(low, high)
    ax.set_xlabel("log10(distance to boundary / float32 rounding reach)")
    ax.set_ylabel("rows")
    ax.legend()
    return fig


def _predicted_vs_true(art: Artifacts, plt) -> str:
    """A regressor's held-out predictions against the true values, one panel per output."""
    predicted = np.asarray(art.held_out.predict(art.X_test), dtype=np.float64).reshape(len(art.X_test), -1)
    truth = np.asarray(art.y_test, dtype=np.float64).reshape(len(art.X_test), -1)
    error = predicted - truth
    rows = [[f"output {k}" if truth.shape[1] > 1 else "prediction", f"{np.sqrt(np.mean(error[:, k] ** 2)):.4g}",
             f"{np.max(np.abs(error[:, k])):.4g}"] for k in range(truth.shape[1])]
    text = (f"<p>scikit-learn's predictions for the {len(truth)} held-out rows against their true values (the "
            "header computes the same values, see the agreement above); on the diagonal a prediction is exact.</p>"
            + _table(["", "RMSE", "max abs error"], rows))
    if plt is None:
        return text
    shown = min(truth.shape[1], 4)
    fig, axes = plt.subplots(1, shown, figsize=(3.4 * shown + 0.6, 3.4), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.scatter(truth[:, k], predicted[:, k], s=14, color=SCATTER_COLOUR, alpha=0.8)
        low = float(min(truth[:, k].min(), predicted[:, k].min()))
        high = float(max(truth[:, k].max(), predicted[:, k].max()))
        ax.plot([low, high], [low, high], color="#555555", linewidth=1, linestyle="--")
        ax.set_xlabel("true" + (f" (output {k})" if shown > 1 else ""))
        ax.set_ylabel("predicted")
    fig.tight_layout()
    more = (f'<p class="note">{truth.shape[1] - shown} more outputs are not plotted.</p>'
            if truth.shape[1] > shown else "")
    return text + _figure_html(plt, fig, "predicted vs true") + more


def _memory(art: Artifacts, plt) -> str:
    target = art.config.target
    fp = art.footprint
    facts = art.facts
    flash = fp.flash if fp else facts["tables"] + facts["code"]
    ram = (fp.ram + (fp.stack or 0)) if fp else None
    how = f"measured with the {fp.target} toolchain" if fp else "estimated by the plan (no toolchain)"
    if art.unmeasured:
        how = f"estimated by the plan: {html.escape(art.unmeasured)}"
    against = _against(flash, target.flash_budget)
    overflow = re.search(r"reports (\d+) bytes too many", art.unmeasured)
    if overflow:        # the linker's count, against the chip it measures on
        against = f"over the chip by {overflow.group(1)} B (the linker's count)"
    rows = [["flash", flash, target.flash_budget or "–", against],
            ["RAM + stack", ram if ram is not None else "–", target.ram_budget or "–", _against(ram, target.ram_budget)]]
    text = (f"<p>Figures {how}: {html.escape(describe_cost(facts))}. Model tables: {facts['tables']} bytes, all in "
            "flash.</p>")
    text += _table(["", "model (bytes)", "budget (bytes)", "against the budget"], rows)
    over = [name for name, value, budget, _ in rows if isinstance(budget, int) and isinstance(value, int)
            and value > budget]
    if over or art.unmeasured:
        text += (f'<p class="warn">The model does not fit its budget ({" and ".join(over) or "flash"}): microml '
                 "build would fail and keep the previous header. Shrink the model or raise target.budget.</p>")
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
    return text + _figure_html(plt, memory_figure(plt, bars), "flash and RAM against the budget")


def _against(value, budget) -> str:
    """`over by 224 B (+22%)` or `fits, 900 B (44%) left`."""
    if not isinstance(value, int) or not budget:
        return "–"
    if value > budget:
        return f"over by {value - budget} B (+{100 * (value - budget) / budget:.0f}%)"
    return f"fits, {budget - value} B ({100 * (budget - value) / budget:.0f}%) left"


def memory_figure(plt, bars: list[tuple[str, int, int]]):
    """Horizontal bars, % of each budget (red beyond it), the figures beside them, the legend under the axis."""
    percent = [100 * value / budget for _, value, budget in bars]
    right = max(100.0, *percent) * 1.45
    fig, ax = plt.subplots(figsize=(6.5, 1.3 + 0.6 * len(bars)))
    y = np.arange(len(bars))
    ax.barh(y, [100] * len(bars), color=BUDGET_COLOUR, label="budget")
    ax.barh(y, percent, color=[OVER_COLOUR if p > 100 else MODEL_COLOUR for p in percent], label="model")
    for i, ((_, value, budget), p) in enumerate(zip(bars, percent)):
        ax.text(max(p, 100) + right * 0.01, i, f"{value} / {budget} B", va="center")
    ax.set_yticks(y, [name for name, _, _ in bars])
    ax.set_xlim(0, right)
    ax.set_xlabel("% of the budget")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5 if len(bars) == 1 else -0.3), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def report(config_path: str | Path, output: str | Path | None = None, log: Log | None = None) -> Path:
    """Write the HTML report; returns its path (default: `<name>_report.html` next to the yaml)."""
    log = log or Log()
    config = load_config(config_path)
    out = Path(output).absolute() if output else config.root / f"{config.name}_report.html"
    if out.is_dir():        # `-o reports/`: the default file name in that folder
        out = out / f"{config.name}_report.html"
    art = produce(config, config.output.name, input_digest(config, {}), log, enforce_budget=False)
    atomic_write(out, render(art, config.display(config.output)), what="report")
    log.info(f"Wrote {out}")
    return out
