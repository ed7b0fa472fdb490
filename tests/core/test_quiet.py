"""`microml build -q` prints nothing but errors: the training script's output is captured, and shown only when
training fails."""

import subprocess
import sys

NOISY = """\
import os
import sys
import warnings

from sklearn.svm import SVC


def train(X, y):
    for i in range(220):
        print("epoch", i)
    print("to stderr", file=sys.stderr)
    os.write(1, b"straight to fd 1\\n")
    os.write(2, b"straight to fd 2\\n")
    warnings.warn("a user warning")
    {tail}
"""


def cli(*args):
    return subprocess.run([sys.executable, "-m", "microml_build", *map(str, args)], capture_output=True, text=True)


def test_quiet_build_prints_nothing_from_the_training_script(project):
    (project / "train.py").write_text(NOISY.format(tail="return SVC().fit(X, y)"))
    result = cli("build", "-q", project / "microml.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", (result.stdout[-500:], result.stderr[-500:])
    assert (project / "include" / "iris_model.h").is_file()


def test_quiet_build_shows_the_captured_output_when_training_fails(project):
    (project / "train.py").write_text(NOISY.format(tail="raise ValueError('bad data')"))
    result = cli("build", "-q", project / "microml.yaml")
    assert result.returncode == 1 and result.stdout == ""
    err = result.stderr
    assert "train(X, y) raised ValueError: bad data" in err
    assert "epoch 219" in err and "to stderr" in err and "straight to fd 1" in err and "straight to fd 2" in err
    assert "a user warning" in err


def test_without_quiet_the_scripts_output_goes_to_stderr(project):
    (project / "train.py").write_text(NOISY.format(tail="return SVC().fit(X, y)"))
    result = cli("build", project / "microml.yaml")
    assert result.returncode == 0, result.stderr
    assert "epoch 219" in result.stderr and "epoch" not in result.stdout
