"""Fewer support vectors by training on k-means centroids: what it costs in held-out accuracy (issue 18, item 4).

    python benchmarks/fewer_svs.py

For each case and m, every class of the training rows is replaced by m k-means centroids and the same
estimator is fitted on them; support vectors and held-out accuracy are averaged over 5 stratified 75/25
splits (random_state 0..4) and compared with the estimator fitted on all training rows. Prints Markdown.
The figures decide whether MicroML offers this as a `train:` option (docs/precision.md says what they showed).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

CASES = [
    ("breast_cancer, raw features, SVC(gamma=0.001, C=35)", load_breast_cancer, lambda: SVC(gamma=0.001, C=35)),
    ("breast_cancer, StandardScaler + SVC()", load_breast_cancer, lambda: make_pipeline(StandardScaler(), SVC())),
    ("wine, StandardScaler + SVC()", load_wine, lambda: make_pipeline(StandardScaler(), SVC())),
]
CENTROIDS = (5, 10, 20, 40)
SPLITS = 5


def centroids(X: np.ndarray, y: np.ndarray, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for label in np.unique(y):
        members = X[y == label]
        k = min(m, len(members))
        rows.append(KMeans(k, n_init=4, random_state=seed).fit(members).cluster_centers_)
        labels.append(np.full(k, label))
    return np.concatenate(rows), np.concatenate(labels)


def n_support(estimator) -> int:
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return len(final.support_vectors_)


def main() -> None:
    warnings.simplefilter("ignore")
    print("| case | training rows | support vectors | held-out accuracy (mean, min of 5 splits) |")
    print("|---|---|---:|---:|")
    for title, load, make in CASES:
        X, y = load(return_X_y=True)
        figures: dict[str, list[tuple[int, float]]] = {}
        for seed in range(SPLITS):
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
            full = make().fit(X_train, y_train)
            figures.setdefault("all", []).append((n_support(full), full.score(X_test, y_test)))
            for m in CENTROIDS:
                small = make().fit(*centroids(X_train, y_train, m, seed))
                figures.setdefault(f"{m} centroids per class", []).append((n_support(small),
                                                                          small.score(X_test, y_test)))
        for rows, values in figures.items():
            values = np.array(values)
            print(f"| {title} | {rows} | {values[:, 0].mean():.1f} | {values[:, 1].mean():.4f}, "
                  f"{values[:, 1].min():.4f} |")


if __name__ == "__main__":
    main()
