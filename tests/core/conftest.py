import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

IRIS_YAML = """\
name: iris
dataset:
  path: data.csv
  label: species
train:
  script: train.py
verify:
  test_size: 0.25
  random_state: 0
  measure: false              # measuring on the AVR toolchain has its own tests
target:
  mcu: avr
output: include/iris_model.h
"""

TRAIN_PY = """\
from sklearn.svm import SVC


def train(X, y):
    return SVC(kernel="rbf", C=10, gamma="scale").fit(X, y)
"""


def write_iris_csv(path: Path) -> None:
    from sklearn.datasets import load_iris

    data = load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for row, target in zip(data.data, data.target):
        lines.append(",".join(f"{v:g}" for v in row) + "," + str(data.target_names[target]))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def project(tmp_path):
    """A firmware project folder with microml.yaml, data.csv (iris, string labels) and train.py."""
    root = tmp_path / "fw"
    root.mkdir()
    (root / "platformio.ini").write_text("[env:uno]\nplatform = atmelavr\n")
    (root / "microml.yaml").write_text(IRIS_YAML)
    (root / "train.py").write_text(TRAIN_PY)
    write_iris_csv(root / "data.csv")
    return root
