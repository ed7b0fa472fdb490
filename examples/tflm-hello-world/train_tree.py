"""Gradient-boosted regression trees on the noisy sine.

Hyperparameters picked by 5-fold cross-validation on the 600 training rows (`python tune.py`;
not on the evaluation grid). Each tree is a few comparisons of x with a threshold in flash, so a
prediction costs no float multiply at all, but a sum of step functions needs many steps to follow
a curve: see README.md for what that costs in flash.
"""

from sklearn.ensemble import GradientBoostingRegressor


def train(X, y):
    model = GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.05, subsample=0.5,
                                      random_state=0)
    return model.fit(X, y)
