"""microml report: a self-contained HTML page, with and without matplotlib, that renders in a real browser."""

import builtins
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from microml_build.pipeline.build import Log
from microml_build.commands.report import report
from support import need_tool, require_mark

SECTIONS = ["Dataset", "Estimator", "Accuracy and agreement with scikit-learn", "Confusion matrix (held-out split)",
            "Distance to the decision boundary", "Flash and RAM"]


def test_report_has_every_section_and_embedded_images(project, tmp_path):
    pytest.importorskip("matplotlib")
    yaml = (project / "microml.yaml").read_text()
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  board: uno\n"))
    out = report(project / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True))
    page = out.read_text()
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page
    assert page.count('src="data:image/png;base64,') == 3  # confusion, margins, budget bars
    assert "agreement 150/150" in page and "SVC" in page
    assert ("<p>Target <code>avr</code>, board <code>uno</code>; precision <code>float</code>; optimize "
            "<code>balanced</code>.</p>") in page
    assert not re.search(r'src="(?!data:)', page), "everything is embedded"
    assert not (project / "include").exists(), "report writes no header"


def test_report_without_matplotlib_still_renders(project, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    page = report(project / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True)).read_text()
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page
    assert "<img" not in page and "matplotlib is not installed" in page
    assert "<td>setosa</td>" in page


def chromium():
    require_mark("chromium")
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing (required in CI): apt-get install chromium")
    pytest.skip("chromium is not installed")


@pytest.mark.chromium
def test_report_renders_in_headless_chromium(project, tmp_path):
    pytest.importorskip("matplotlib")
    browser = chromium()
    page = report(project / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True))
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--window-size=1000,2400",
         f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert sum(1 for count in image.histogram() if count) > 50, "the screenshot is blank"


# ---------------------------------------------------------------------------------------------
# Over budget (item 10), the margin histogram, the regressor plot and the budget chart (item 11)


def over_budget(project, flash: str = "512"):
    yaml = (project / "microml.yaml").read_text().replace("  mcu: avr\n", f"  board: uno\n  budget: {{flash: {flash}}}\n")
    (project / "microml.yaml").write_text(yaml)


def test_report_shows_an_over_budget_model_and_how_far_over(project, tmp_path):
    import html as html_module

    over_budget(project)
    page = html_module.unescape(report(project / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True)).read_text())
    flash = int(re.search(r"<td>flash</td><td class=\"num\">(\d+)</td><td class=\"num\">512</td>", page).group(1))
    assert flash > 512
    assert f"over by {flash - 512} B (+{100 * (flash - 512) / 512:.0f}%)" in page
    assert "does not fit its budget" in page and "microml build would fail" in page


@pytest.mark.avr
def test_report_of_a_model_that_overflows_the_chip_says_by_how_much(project, tmp_path):
    """Bigger than the Uno's flash: the linker's overflow is reported, not raised."""
    import html as html_module

    need_tool("avr")
    rng = np.random.RandomState(0)
    X = rng.randn(530, 20)
    y = (rng.rand(530) > 0.5).astype(int)
    (project / "data.csv").write_text("\n".join([",".join([f"f{i}" for i in range(20)] + ["species"])] + [
        ",".join([f"{v:.5f}" for v in row] + [str(label)]) for row, label in zip(X, y)]) + "\n")
    yaml = (project / "microml.yaml").read_text().replace("  mcu: avr\n", "  board: uno\n")
    (project / "microml.yaml").write_text(yaml.replace("  measure: false ", "  measure: true "))
    page = html_module.unescape(report(project / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True)).read_text())
    overflow = re.search(r"the linker reports (\d+) bytes too many", page)
    assert overflow, page[-3000:]
    assert f"over the chip by {overflow.group(1)} B" in page and "does not fit its budget" in page


def test_margin_histogram_bars_are_visible_in_a_narrow_band():
    """Margins between 10^4.80 and 10^4.82: every non-empty bin is drawn at least two pixels wide."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from microml_build.commands.report import margin_figure

    margins = 10 ** np.linspace(4.80, 4.82, 500)
    fig = margin_figure(plt, margins)
    fig.canvas.draw()
    bars = [p for p in fig.axes[0].patches if p.get_height() > 0]
    assert bars and min(p.get_window_extent().width for p in bars) >= 2
    plt.close(fig)


def test_budget_chart_legend_covers_no_number():
    plt = pytest.importorskip("matplotlib.pyplot")
    from microml_build.commands.report import memory_figure

    for bars in ([("flash", 30000, 32256), ("RAM + stack", 1900, 2048)], [("flash", 70000, 32256)]):
        fig = memory_figure(plt, bars)
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        texts = [t for t in ax.texts if " B" in t.get_text()]
        assert len(texts) == len(bars)
        for text in texts:
            assert not legend.overlaps(text.get_window_extent()), text.get_text()
            assert fig.bbox.contains(*text.get_window_extent().p1), f"{text.get_text()} is cut off"
        plt.close(fig)


REGRESSION_YAML = """\
name: diab
dataset: {path: "sklearn:diabetes"}
train: {estimator: Ridge}
verify: {measure: false}
output: include/diab.h
"""


def test_regressor_report_plots_predicted_against_true(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "microml.yaml").write_text(REGRESSION_YAML)
    page = report(tmp_path / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True)).read_text()
    assert "<h2>Predicted vs true (held-out split)</h2>" in page
    assert 'alt="predicted vs true"' in page
    assert "Confusion matrix" not in page


def screenshot(page, tmp_path, name: str):
    browser = chromium()
    shot = tmp_path / f"{name}.png"
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / ('profile-' + name)}", "--enable-logging=stderr", "--v=0",
         "--window-size=1000,4000", f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
        timeout=120)
    assert shot.is_file(), result.stderr[-2000:]
    from PIL import Image

    return Image.open(shot).convert("RGB")


def colour_pixels(image, colour: str, tolerance: int = 12) -> int:
    rgb = np.asarray(image, dtype=np.int32)
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(axis=2) <= tolerance).sum())


@pytest.mark.chromium
def test_chromium_draws_the_margin_histogram_and_the_regressor_plot(project, tmp_path):
    pytest.importorskip("matplotlib")
    from microml_build.commands.report import HISTOGRAM_COLOUR, SCATTER_COLOUR

    page = report(project / "microml.yaml", tmp_path / "c.html", log=Log(quiet=True))
    assert colour_pixels(screenshot(page, tmp_path, "classifier"), HISTOGRAM_COLOUR) > 200
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / "microml.yaml").write_text(REGRESSION_YAML)
    page = report(tmp_path / "reg" / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True))
    assert colour_pixels(screenshot(page, tmp_path, "regressor"), SCATTER_COLOUR) > 200


def test_fixed_point_report_explains_agreement_in_integer_terms(project, tmp_path):
    yaml = (project / "microml.yaml").read_text().replace("  script: train.py\n", "  estimator: LogisticRegression\n"
                                                          "  params: {max_iter: 1000}\n")
    (project / "microml.yaml").write_text(yaml.replace("  mcu: avr\n", "  mcu: avr\n  precision: fixed16\n"))
    page = report(project / "microml.yaml", tmp_path / "r.html", log=Log(quiet=True)).read_text()
    assert "fixed16 agreement" in page and "computes in fixed16 integers, not float32" in page
    assert "Largest difference of a decision value" not in page


def test_report_into_a_folder_writes_the_default_name_there(project, tmp_path):
    """`microml report -o reports/` was `cannot write the report: Is a directory`, after a whole build."""
    folder = tmp_path / "reports"
    folder.mkdir()
    out = report(project / "microml.yaml", folder, log=Log(quiet=True))
    assert out == folder / "iris_report.html" and "<h2>" in out.read_text()
