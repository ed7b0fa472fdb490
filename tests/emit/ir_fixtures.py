"""Small hand-built IR models, one per model family and C form, for the golden emitter tests.

No scikit-learn here: every number is written out (or derived from a fixed grid), so a golden
header changes only when the emitter, the planner or a pass does. Each fixture returns
(model, prefer, feature names, rows): `prefer` asks the planner for a form (`plan(model, prefer)`),
`rows` are inputs the test runs the compiled header on to compare it with the IR's reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microml_build.ir import Model
from microml_build.ir.bayes import DiscreteNb, GaussianNb
from microml_build.ir.features import WindowStage
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.preprocessing import Normalize, Polynomial, Project
from microml_build.ir.svm import KernelSvm, KernelSvr, LinearOvo
from microml_build.ir.trees import BoostedClassifier, BoostedRegressor, ForestClassifier, ForestRegressor, Trees
from microml_build.passes.compress import compress
from microml_build.passes.quantize import quantize

WEATHER = ("temperature", "humidity", "wind speed")        # three features, with a space: names reach comments
LEVELS = ("low", "mid", "high")


@dataclass(frozen=True)
class Fixture:
    model: Model
    prefer: dict
    feature_names: tuple[str, ...]
    rows: np.ndarray
    optimize: str = "balanced"      # target.optimize, for the forms only `speed` takes


def _grid(n_features: int, low: float = -2.0, high: float = 2.0, n: int = 5) -> np.ndarray:
    """Every combination of n evenly spaced values per feature (n ** n_features rows), plus a row of NaN-free
    extremes: enough rows to reach every leaf and both sides of every split of the small fixtures."""
    axes = np.meshgrid(*[np.linspace(low, high, n)] * n_features, indexing="ij")
    return np.stack([a.ravel() for a in axes], axis=1)


def _with_nan(rows: np.ndarray) -> np.ndarray:
    """`rows` plus, for each feature, the rows with that feature missing (NaN): the NaN paths of the trees."""
    missing = []
    for j in range(rows.shape[1]):
        copy = rows[::3].copy()
        copy[:, j] = np.nan
        missing.append(copy)
    return np.vstack([rows, *missing])


def _model(head, n_features: int, summary: str, labels=(), transforms=()) -> Model:
    return Model(n_features=n_features, head=head, estimator=summary.split(" ")[0] + "()", summary=summary,
                 labels=labels, transforms=transforms)


# ---------------------------------------------------------------------------------------------
# Trees from nested tuples: ("split", feature, threshold, nan_left, left, right) or ("leaf", values...)


def trees(*roots, nan_aware: bool = False) -> Trees:
    """Pack trees written as nested tuples into `Trees`' flat layout: split nodes in pre-order, tree after tree."""
    feature, threshold, missing, left, right, leaves, start = [], [], [], [], [], [], [0]

    def visit(node) -> int:
        if node[0] == "leaf":
            leaves.append(list(node[1:]))
            return -len(leaves)
        index = len(feature)
        feature.append(node[1])
        threshold.append(node[2])
        missing.append(node[3])
        left.append(0)
        right.append(0)
        left[index] = visit(node[4])
        right[index] = visit(node[5])
        return index

    for root in roots:
        visit(root)
        start.append(len(feature))
    return Trees(feature=np.array(feature), threshold=np.array(threshold, dtype=np.float64),
                 missing_left=np.array(missing, dtype=bool), left=np.array(left), right=np.array(right),
                 tree_start=np.array(start), leaf_value=np.array(leaves, dtype=np.float64), nan_aware=nan_aware)


def S(feature, threshold, left, right, nan_left=False):
    return ("split", feature, threshold, nan_left, left, right)


def L(*values):
    return ("leaf", *values)


# ---------------------------------------------------------------------------------------------
# SVMs


def svc_rbf() -> Fixture:
    """Three classes, two support vectors each: the one-vs-one tables and pair loop."""
    sv = np.array([[-1.0, 0.5, 0.25], [-0.5, 1.0, 0.0], [0.0, 0.0, 0.5], [0.5, -0.25, 1.0], [1.0, -1.0, -0.5],
                   [1.5, -0.5, 0.75]])
    head = KernelSvm(kernel="rbf", gamma=0.5, coef0=0.0, degree=3, support_vectors=sv,
                     coef=np.array([[1.0, 0.75, -1.0, -0.5, 0.5, 1.0], [0.25, 0.5, 1.0, 0.5, -0.75, -1.0]]),
                     intercept=np.array([0.125, -0.25, 0.0625]), n_support=(2, 2, 2))
    return Fixture(_model(head, 3, "SVC(rbf) 6 SV x 3 features", LEVELS), {}, WEATHER, _grid(3))


def svc_poly() -> Fixture:
    """Two classes, a cubic kernel: one decision value, the sign test on its bits."""
    head = KernelSvm(kernel="poly", gamma=0.5, coef0=1.0, degree=3,
                     support_vectors=np.array([[-1.0, 0.5], [0.25, -0.5], [1.0, 1.0]]),
                     coef=np.array([[-1.0, 0.5, 0.5]]), intercept=np.array([-0.125]), n_support=(1, 2))
    return Fixture(_model(head, 2, "SVC(poly) 3 SV x 2 features", ("off", "on")), {}, WEATHER[:2], _grid(2))


def svc_linear() -> Fixture:
    """A linear-kernel SVC: the support vectors summed into one weight vector per class pair."""
    head = LinearOvo(weights=np.array([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5], [-0.25, 0.75, 1.0]]),
                     intercept=np.array([0.125, -0.5, 0.25]), n_classes=3)
    return Fixture(_model(head, 3, "SVC(linear) 3 weight vectors x 3 features", LEVELS), {}, WEATHER, _grid(3))


def svr() -> Fixture:
    head = KernelSvr(kernel="rbf", gamma=0.25, coef0=0.0, degree=3,
                     support_vectors=np.array([[-1.0, 0.0], [0.0, 1.0], [1.0, -0.5]]),
                     coef=np.array([1.5, -0.75, -0.75]), intercept=0.25)
    return Fixture(_model(head, 2, "SVR(rbf) 3 SV x 2 features"), {}, WEATHER[:2], _grid(2))


# ---------------------------------------------------------------------------------------------
# Linear


def linear_classifier() -> Fixture:
    """Logistic regression, two classes: one decision, predict_proba from its logistic."""
    head = LinearClassifier(weights=np.array([[0.75, -1.25, 0.5]]), intercept=np.array([-0.25]), proba="logistic")
    return Fixture(_model(head, 3, "LogisticRegression 1 weight vector x 3 features", ("dry", "rain")), {},
                   WEATHER, _grid(3))


def linear_regressor() -> Fixture:
    head = LinearRegressor(weights=np.array([[2.5, -0.5, 0.125]]), intercept=np.array([10.0]))
    return Fixture(_model(head, 3, "Ridge 1 weight vector x 3 features"), {}, WEATHER, _grid(3))


def linear_written_out() -> Fixture:
    """Multinomial logistic regression, three classes, written out (`target.optimize: speed`): one expression per
    class, the weights as literals, the softmax on top."""
    head = LinearClassifier(weights=np.array([[0.75, -1.25, 0.5], [-0.5, 0.25, 1.0], [0.125, 1.5, -0.75]]),
                            intercept=np.array([-0.25, 0.5, 0.0]), proba="softmax")
    return Fixture(_model(head, 3, "LogisticRegression 3 weight vectors x 3 features", LEVELS), {}, WEATHER, _grid(3),
                   optimize="speed")


# ---------------------------------------------------------------------------------------------
# Trees (float)


def _tree() -> Trees:
    """A depth-3 classifier tree of 5 split nodes over two classes, NaN-aware (HistGradientBoosting-like)."""
    return trees(S(0, 0.5, S(1, -0.25, L(0.9, 0.1), S(2, 1.5, L(0.2, 0.8), L(0.6, 0.4), nan_left=True)),
                   S(1, 0.75, S(2, -1.0, L(1.0, 0.0), L(0.0, 1.0)), L(0.3, 0.7)), nan_left=True),
                 nan_aware=True)


def tree_tables() -> Fixture:
    head = ForestClassifier(trees=_tree())
    return Fixture(_model(head, 3, "DecisionTreeClassifier 5 split nodes, 6 leaves x 3 features", ("dry", "rain")),
                   {"trees": "tables"}, WEATHER, _with_nan(_grid(3)))


def tree_code() -> Fixture:
    """The same tree written out as if/else code."""
    head = ForestClassifier(trees=_tree())
    return Fixture(_model(head, 3, "DecisionTreeClassifier 5 split nodes, 6 leaves x 3 features", ("dry", "rain")),
                   {"trees": "code"}, WEATHER, _with_nan(_grid(3)))


def tree_steps() -> Fixture:
    """Two regression trees that both test one feature: a step table, found by binary search."""
    head = ForestRegressor(trees=trees(S(1, 0.0, S(1, -1.0, L(1.0), L(2.0)), L(4.0)),
                                       S(1, 0.5, L(1.5), S(1, 1.25, L(3.0), L(5.0)))))
    return Fixture(_model(head, 2, "RandomForestRegressor 2 trees, 4 split nodes, 6 leaves x 2 features"),
                   {"trees": "steps"}, WEATHER[:2], _grid(2, n=9))


def forest() -> Fixture:
    """Three trees over three classes: node tables, integer probability sums in predict()."""
    head = ForestClassifier(trees=trees(
        S(0, 0.0, S(2, -0.5, L(1.0, 0.0, 0.0), L(0.5, 0.5, 0.0)), L(0.0, 0.25, 0.75)),
        S(1, 0.25, L(0.75, 0.25, 0.0), S(0, 1.0, L(0.0, 1.0, 0.0), L(0.0, 0.0, 1.0))),
        S(2, 0.5, L(0.5, 0.5, 0.0), L(0.0, 0.5, 0.5))))
    return Fixture(_model(head, 3, "RandomForestClassifier 3 trees, 5 split nodes, 8 leaves x 3 features", LEVELS),
                   {"trees": "tables"}, WEATHER, _grid(3))


def boosting() -> Fixture:
    """Two boosting stages over three classes (tree t adds to class t % 3), node tables."""
    stage = [S(j, 0.25 * j, L(0.5 - 0.125 * j), L(-0.25 + 0.125 * j)) for j in range(3)]
    second = [S(2 - j, -0.5, L(0.125), S(j, 1.0, L(-0.125), L(0.25))) for j in range(3)]
    head = BoostedClassifier(trees=trees(*stage, *second), init=np.array([-1.0986, 0.4055, -0.6931]),
                             zero_is_positive=True)
    return Fixture(_model(head, 3, "GradientBoostingClassifier 6 trees, 9 split nodes, 15 leaves x 3 features",
                          LEVELS), {"trees": "tables"}, WEATHER, _grid(3))


# ---------------------------------------------------------------------------------------------
# Naive Bayes, MLP


def gaussian_nb() -> Fixture:
    head = GaussianNb(theta=np.array([[-1.0, 0.5], [0.0, 0.0], [1.5, -0.5]]),
                      var=np.array([[0.5, 1.0], [0.25, 0.75], [1.0, 0.5]]), log_prior=np.log([0.25, 0.5, 0.25]))
    return Fixture(_model(head, 2, "GaussianNB 3 classes x 2 features", LEVELS), {}, WEATHER[:2], _grid(2))


def discrete_nb() -> Fixture:
    """BernoulliNB with binarize=0.0: each feature counts as 1 above zero."""
    p = np.array([[0.2, 0.7, 0.5], [0.8, 0.4, 0.1]])
    head = DiscreteNb(kind="bernoulli", weights=np.log(p) - np.log1p(-p),
                      offset=np.log([0.4, 0.6]) + np.log1p(-p).sum(axis=1), binarize=0.0)
    return Fixture(_model(head, 3, "BernoulliNB 2 classes x 3 features", ("dry", "rain")), {}, WEATHER, _grid(3))


def mlp() -> Fixture:
    """3 inputs, two relu hidden layers (4 and 3 neurons), 3 classes: one stack buffer, softmax."""
    rng = np.random.RandomState(7)      # numpy's legacy generator: the same numbers on every numpy version
    w1, w2, w3 = (np.round(rng.uniform(-1, 1, shape) * 8) / 8 for shape in ((4, 3), (3, 4), (3, 3)))
    head = Mlp(activation="relu", output="softmax", weights=(w1, w2, w3),
               biases=(np.array([0.125, -0.25, 0.0, 0.5]), np.array([0.25, 0.0, -0.125]), np.array([0.0, 0.5, -0.5])))
    return Fixture(_model(head, 3, "MLPClassifier(relu) 3-4-3-3 neurons, 40 weights, softmax output", LEVELS), {},
                   WEATHER, _grid(3))


# ---------------------------------------------------------------------------------------------
# A Pipeline whose transforms stay: a Normalizer (never folds) and a projection, then an RBF SVC


def pipeline_transform() -> Fixture:
    head = KernelSvm(kernel="rbf", gamma=1.0, coef0=0.0, degree=3,
                     support_vectors=np.array([[0.5, -0.25], [-0.5, 0.25], [0.0, 0.75]]),
                     coef=np.array([[1.0, -0.5, -0.5]]), intercept=np.array([0.0625]), n_support=(1, 2))
    transforms = (Normalize(norm="l2"),
                  Project(mean=np.array([0.1, -0.2, 0.0]), components=np.array([[0.6, 0.8, 0.0], [0.0, 0.6, -0.8]]),
                          bias=np.zeros(2)))
    model = _model(head, 3, "Normalizer -> PCA -> SVC(rbf) 3 SV x 2 features", ("dry", "rain"), transforms)
    return Fixture(model, {}, WEATHER, _grid(3))


def pipeline_polynomial() -> Fixture:
    """PolynomialFeatures(degree=2) of two features, then a linear regression: computed in the transform."""
    powers = np.array([[0, 0], [1, 0], [0, 1], [2, 0], [1, 1], [0, 2]])
    head = LinearRegressor(weights=np.array([[0.5, 1.0, -2.0, 0.25, 0.125, -0.5]]), intercept=np.array([0.0]))
    model = _model(head, 2, "PolynomialFeatures -> Ridge 1 weight vector x 6 features", (),
                   (Polynomial(powers=powers),))
    return Fixture(model, {}, WEATHER[:2], _grid(2))


def window_features(prefer: dict | None = None) -> Fixture:
    """The window stage: mean, std and max of 2 channels over 2 segments of an 8-sample window, then a logistic
    regression on those 12 features (computed on the chip, straight or from a ring buffer), the features kept
    in a buffer."""
    stage = WindowStage(length=8, channels=2, stats=("mean", "std", "max"), segments=2,
                        channel_names=("ax", "ay"))
    head = LinearClassifier(weights=np.array([[0.5, -0.25, 0.125, -0.5, 0.25, 0.75, -0.125, 0.5, -0.75, 0.25,
                                               0.0, 1.0]]), intercept=np.array([-0.5]), proba="logistic")
    model = _model(head, 16, "WindowFeatures -> LogisticRegression 1 weight vector x 12 features", ("rest", "shake"),
                   (stage,))
    names = tuple(f"t{t}_{c}" for t in range(8) for c in ("ax", "ay"))
    rng = np.random.RandomState(3)
    return Fixture(model, prefer or {"window": "buffer"}, names, np.round(rng.uniform(-2, 2, (40, 16)), 2))


def window_features_fused() -> Fixture:
    """The same, as the planner prints it by default: each feature added into the decision as it is computed."""
    return window_features({"window": "fused"})


# ---------------------------------------------------------------------------------------------
# Fixed point: the float IR above through the quantization pass, scaled from TRAIN


TRAIN = _grid(3, n=4) * np.array([10.0, 25.0, 4.0]) + np.array([15.0, 50.0, 8.0])   # degrees, percent, m/s


def _fixed(model: Model, precision: str, prefer: dict, names=WEATHER) -> Fixture:
    train = TRAIN[:, :model.n_features]
    fixed = quantize(model, train, precision, names[:model.n_features])
    return Fixture(fixed, prefer, names[:model.n_features], _with_nan(train) if precision == "fixed16" else train)


def fixed16_linear() -> Fixture:
    head = LinearClassifier(weights=np.array([[0.1, -0.02, 0.3], [-0.05, 0.04, 0.1], [0.02, 0.01, -0.4]]),
                            intercept=np.array([0.5, -1.0, 0.25]))
    return _fixed(_model(head, 3, "LogisticRegression 3 weight vectors x 3 features", LEVELS), "fixed16", {})


def _weather_forest() -> ForestClassifier:
    return ForestClassifier(trees=trees(
        S(0, 14.5, S(1, 40.0, L(0.9, 0.1), L(0.4, 0.6)), S(2, 9.5, L(0.2, 0.8), L(0.0, 1.0))),
        S(1, 62.5, L(0.7, 0.3), S(0, 21.0, L(0.5, 0.5), L(0.1, 0.9)))))


def fixed16_trees_tables() -> Fixture:
    model = _model(_weather_forest(), 3, "RandomForestClassifier 2 trees, 5 split nodes, 7 leaves x 3 features",
                   ("dry", "rain"))
    return _fixed(model, "fixed16", {"fixed_trees": "tables"})


def fixed16_trees_code() -> Fixture:
    """Boosted regression trees, NaN-aware (a missing value goes right at the root): written out as code."""
    head = BoostedRegressor(trees=trees(S(0, 14.5, L(-2.0), S(2, 9.5, L(0.5), L(1.5)), nan_left=False),
                                        S(1, 62.5, L(0.25), L(-0.75), nan_left=True), nan_aware=True),
                            init=np.array([20.0]), link="identity")
    model = _model(head, 3, "HistGradientBoostingRegressor 2 trees, 3 split nodes, 5 leaves x 3 features")
    return _fixed(model, "fixed16", {"fixed_trees": "code"})


def svc_rbf_int16_vectors() -> Fixture:
    """svc_rbf with its support vectors packed as int16 codes (passes/compress.py): float arithmetic over them."""
    fixture = svc_rbf()
    return Fixture(compress(fixture.model, "int16-vectors"), {}, WEATHER, fixture.rows)


def fixed16_svc_rbf() -> Fixture:
    """An RBF SVC in the weather units, three classes, in integers: kernel inputs, distances, the exp table."""
    sv = np.array([[10.0, 40.0, 6.0], [12.0, 70.0, 9.0], [18.0, 45.0, 10.0], [20.0, 60.0, 5.0], [25.0, 30.0, 12.0],
                   [22.0, 55.0, 7.0]])
    head = KernelSvm(kernel="rbf", gamma=0.01, coef0=0.0, degree=3, support_vectors=sv,
                     coef=np.array([[1.0, 0.75, -1.0, -0.5, 0.5, 1.0], [0.25, 0.5, 1.0, 0.5, -0.75, -1.0]]),
                     intercept=np.array([0.125, -0.25, 0.0625]), n_support=(2, 2, 2))
    return _fixed(_model(head, 3, "SVC(rbf) 6 SV x 3 features", LEVELS), "fixed16", {})


def fixed8_mlp() -> Fixture:
    """3 inputs, 4 tanh neurons, one logistic output: int8 weights and the tanh table."""
    head = Mlp(activation="tanh", output="logistic",
               weights=(np.array([[0.08, -0.02, 0.3], [-0.05, 0.03, 0.1], [0.01, 0.02, -0.25], [0.1, 0.0, 0.05]]),
                        np.array([[1.5, -0.75, 1.0, 0.5]])),
               biases=(np.array([-1.0, 0.5, 0.25, -1.5]), np.array([-0.25])))
    model = _model(head, 3, "MLPClassifier(tanh) 3-4-1 neurons, 21 weights, logistic output", ("dry", "rain"))
    return _fixed(model, "fixed8", {})


FIXTURES = {f.__name__: f for f in (svc_rbf, svc_poly, svc_linear, svr, linear_classifier, linear_regressor,
                                    linear_written_out,
                                    tree_tables, tree_code, tree_steps, forest, boosting, gaussian_nb, discrete_nb,
                                    mlp, pipeline_transform, pipeline_polynomial, window_features, window_features_fused,
                                    fixed16_linear, fixed16_trees_tables, fixed16_trees_code, fixed8_mlp,
                                    svc_rbf_int16_vectors, fixed16_svc_rbf)}
