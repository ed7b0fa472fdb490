"""microml report: a self-contained HTML page, with and without matplotlib, that renders in a real browser."""

import builtins
import os
import re
import shutil
import subprocess

import pytest

from microml_build.pipeline.build import Log
from microml_build.commands.report import report
from support import require_mark

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
