"""The README's sample `microml build` output is a real run's: its last line equals what the bundled example builds."""

import re
from pathlib import Path

import pytest

from microml_build.pipeline.build import Log, build
from support import need_simavr, need_tool

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.avr
@pytest.mark.simavr
def test_readme_sample_output_is_the_examples_real_build(tmp_path):
    need_tool("avr")
    need_simavr()
    readme = (ROOT / "README.md").read_text()
    sample = re.search(r"^\[microml\] Wrote include/cancer_model\.h: (.*)$", readme, re.M)
    assert sample, "the README shows the example's build line"
    result = build(ROOT / "examples" / "breast_cancer_svm" / "microml.yaml", output=tmp_path / "cancer_model.h",
                   force=True, log=Log(quiet=True))
    assert result.summary.split(".h: ", 1)[1] == sample.group(1), "README.md's sample output is out of date"
