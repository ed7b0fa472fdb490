"""Raw accelerometer windows -> window features -> a 20-tree forest, all computed on the Uno."""

from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline

from microml_build.features import WindowFeatures


def train(X, y):
    # X: one row per take, 128 samples x 3 axes interleaved (ax, ay, az of sample 0, then of sample 1, ...).
    features = WindowFeatures(length=128, channels=3, stats=["mean", "std", "min", "max", "ptp", "mean_crossings"],
                              segments=2, channel_names=["ax", "ay", "az"])
    forest = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)
    return make_pipeline(features, forest).fit(X, y)
