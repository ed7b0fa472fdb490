"""Writes data/gestures.csv: synthetic accelerometer recordings of four gestures, one row per sample.

    python make_data.py            # deterministic: the same bytes on every run

An accelerometer at 25 Hz in milli-g (int16 counts, as an ADXL345 or an MPU-6050 at +-2 g gives them
after scaling), three axes ax, ay, az. Each take is one gesture performed once, 90 to 170 samples
long (3.6 to 6.8 s), the board held at a random tilt so gravity (1000 mg) falls on all three axes:
  rest    the board lying still: gravity, sensor noise and a slow drift
  shake   a back-and-forth shake along x, 2-5 Hz, 120-800 mg
  circle  a circle in the x-y plane, 0.7-2.2 Hz, 100-500 mg on each axis, a quarter period apart
  tap     resting, with 1-3 sharp taps on z (2-3 samples of 300-1600 mg)
Half the rest takes have one slow bump (the board nudged); the sensor noise is 8-30 mg.
Columns: take (the recording's name, e.g. shake_07), gesture, ax, ay, az.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

RATE = 25.0
GESTURES = ("rest", "shake", "circle", "tap")
TAKES = 30


def take(gesture: str, rng: np.random.Generator) -> np.ndarray:
    """One recording: (samples, 3) int16 milli-g."""
    n = int(rng.integers(90, 171))
    t = np.arange(n) / RATE
    tilt, turn = rng.uniform(0, 0.6), rng.uniform(0, 2 * np.pi)
    gravity = 1000.0 * np.array([np.sin(tilt) * np.cos(turn), np.sin(tilt) * np.sin(turn), np.cos(tilt)])
    drift = np.outer(np.sin(2 * np.pi * rng.uniform(0.02, 0.08) * t + rng.uniform(0, 6.3)), rng.normal(0, 20, 3))
    motion = np.zeros((n, 3))
    if gesture == "shake":
        f, a = rng.uniform(2, 5), rng.uniform(120, 800)
        motion[:, 0] = a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
        motion[:, 1] = 0.2 * a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
    elif gesture == "circle":
        f, a, phase = rng.uniform(0.7, 2.2), rng.uniform(100, 500), rng.uniform(0, 6.3)
        motion[:, 0] = a * np.cos(2 * np.pi * f * t + phase)
        motion[:, 1] = a * np.sin(2 * np.pi * f * t + phase)
    elif gesture == "tap":
        for start in rng.choice(np.arange(5, n - 5), size=int(rng.integers(1, 4)), replace=False):
            width = int(rng.integers(2, 4))
            motion[start:start + width, 2] += rng.uniform(300, 1600) * np.array([1.0, -0.6, 0.3])[:width]
    if gesture == "rest" and rng.uniform() < 0.5:      # picked up or nudged: one slow bump
        start = int(rng.integers(0, n - 20))
        motion[start:start + 20] += np.outer(np.hanning(20), rng.normal(0, 120, 3))
    noise = rng.normal(0, rng.uniform(8, 30), (n, 3))
    return np.clip(np.round(gravity + drift + motion + noise), -32768, 32767).astype(np.int16)


def main() -> None:
    rng = np.random.default_rng(2024)
    out = Path(__file__).resolve().parent / "data" / "gestures.csv"
    out.parent.mkdir(exist_ok=True)
    rows = [("take", "gesture", "ax", "ay", "az")]
    for k in range(TAKES):
        for gesture in GESTURES:
            for sample in take(gesture, rng):
                rows.append((f"{gesture}_{k:02d}", gesture, *(int(v) for v in sample)))
    with open(out.with_suffix(".tmp"), "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    out.with_suffix(".tmp").replace(out)
    print(f"wrote {out} ({len(rows) - 1} samples, {TAKES * len(GESTURES)} takes)")


if __name__ == "__main__":
    main()
