"""A single regression tree on the noisy sine: the smallest and fastest clone, and the least accurate.

max_depth and min_samples_leaf picked by 5-fold cross-validation on the 600 training rows
(`python tune.py`; not on the evaluation grid). A tree's prediction is a step function: with
600 noisy samples, narrower steps follow sin(x) closer but average fewer samples each, and no
depth brings its error down to the smooth models' (README.md).
"""

from sklearn.tree import DecisionTreeRegressor


def train(X, y):
    return DecisionTreeRegressor(max_depth=7, min_samples_leaf=5, random_state=0).fit(X, y)
