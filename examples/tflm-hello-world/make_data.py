"""Writes data/sine.csv: TensorFlow Lite Micro's hello_world training data, regenerated deterministically.

The recipe is TFLM's `examples/hello_world/train/train_hello_world_model.py` (the notebook that
produced the shipped 2.5 kB model): seed 1, 1,000 x drawn uniformly from [0, 2π) as float32,
shuffled, y = sin(x) as float32, then `y += 0.1 * np.random.randn(...)`. (The newer top-level
`hello_world/train.py` trains on noise-free sin(x); the noisy recipe is the harder, documented one.)
numpy's legacy RandomState stream is frozen across numpy versions, so the CSV is byte-identical on
every machine: `python make_data.py` rewrites it and `git diff` shows nothing.

Values are written with repr() of the float32 value, which round-trips exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SEED = 1          # TFLM's ConfigData.SEED_VALUE
SAMPLES = 1000    # TFLM's ConfigData.SAMPLES
NOISE = 0.1       # TFLM: y_values += 0.1 * np.random.randn(*y_values.shape)

OUT = Path(__file__).parent / "data" / "sine.csv"


def make() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(SEED)   # the same stream as TFLM's np.random.seed(1)
    x = rng.uniform(low=0, high=2 * math.pi, size=SAMPLES).astype(np.float32)
    rng.shuffle(x)
    y = np.sin(x).astype(np.float32)
    y += NOISE * rng.randn(*y.shape)    # float32 += float64: stays float32, as in TFLM
    return x, y


def main() -> None:
    x, y = make()
    lines = ["x,y"] + [f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}: {len(x)} rows")


if __name__ == "__main__":
    main()
