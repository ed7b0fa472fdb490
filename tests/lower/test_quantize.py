"""Float IR -> fixed-point IR (quantize.py), no compiler: input scaling and its refusals, the integer
reference's rounding and saturation, thresholds, clamped intercepts, the int32 overflow proofs, the
activation tables, and the agreement of the integer reference with scikit-learn."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.bayes import GaussianNb
from microml_build.ir.linear import LinearClassifier, LinearRegressor
from microml_build.ir.mlp import Mlp
from microml_build.ir.preprocessing import Normalize
from microml_build.ir.svm import LinearOvo
from microml_build.ir.trees import ForestClassifier, Trees
from microml_build.lower import lower
from microml_build.passes.quantize import (ACC_LIMIT, INT32_MAX, Q_MAX, Q_MISSING, Q_TRAIN, X_BOUND, input_scaling, quantize as quantize_pass)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def quantize(model, X, precision, feature_names=()):
    """The pass's integer head (`Quantized`): what these tests inspect."""
    return quantize_pass(model, X, precision, feature_names).head


def model(head, n_features, labels=(0, 1), transforms=()):
    return Model(n_features=n_features, head=head, estimator="Test()", summary="Test model", labels=labels,
                 transforms=transforms)


# Inputs


def test_input_scaling_power_of_two_centred_on_the_training_range():
    X = np.array([[0.0, 1000.0, 5.0], [10.0, 1010.0, 5.0], [4.0, 1004.0, 5.0]])
    s = input_scaling(X, ("a", "b", "c"))
    # a: half range 5 -> 16383 / 5 = 3276.6 -> 2^11; centre 5 * 2^11
    assert s.exponent.tolist()[0] == 11 and s.offset.tolist()[0] == 5 * 2048
    # b: same spread around 1005
    assert s.exponent.tolist()[1] == 11 and s.offset.tolist()[1] == 1005 * 2048
    # c: constant 5: its magnitude sets the scale, 16383 / 5 -> 2^11
    assert s.exponent.tolist()[2] == 11
    xq = s.quantize(X)
    assert np.abs(xq).max() <= Q_TRAIN
    assert xq[:, 0].tolist() == [-10240, 10240, -2048]


def test_quantize_rounds_half_away_from_zero_and_saturates():
    s = input_scaling(np.array([[-1.0], [1.0]]), ("x",))     # 16383 / 1 -> 2^13, offset 0
    assert (s.exponent[0], s.offset[0]) == (13, 0)
    step = 2.0 ** -13
    x = np.array([[0.5 * step], [-0.5 * step], [1.5 * step], [-1.5 * step], [0.49 * step], [5.0], [-5.0], [1e30],
                  [-np.inf], [np.inf], [np.nan], [-0.0], [1e-45]], dtype=np.float32)
    assert s.quantize(x)[:, 0].tolist() == [1, -1, 2, -2, 0, Q_MAX, -Q_MAX, Q_MAX, -Q_MAX, Q_MAX, Q_MISSING, 0, 0]


def test_quantize_matches_exact_rational_rounding_on_random_floats():
    rng = np.random.RandomState(0)
    X = (rng.randn(2000, 3) * [1e-3, 7.0, 3e4] + [0.0, 100.0, -2e4]).astype(np.float32)
    s = input_scaling(X[:100], ("a", "b", "c"))
    from fractions import Fraction
    got = s.quantize(X)
    for i in range(0, 2000, 37):
        for j in range(3):
            v = Fraction(float(X[i, j])) * Fraction(2) ** int(s.exponent[j])
            r = int(abs(v) + Fraction(1, 2)) * (1 if v >= 0 else -1) - int(s.offset[j])
            assert got[i, j] == max(-Q_MAX, min(Q_MAX, r))


@pytest.mark.parametrize("column, words", [
    ([1e9, 1e9 + 640.0, 1e9 + 320.0], ["too large for their spread", "subtract a constant"]),
    ([0.0, np.inf, 1.0], ["infinite"]),
])
def test_meaningless_feature_ranges_are_refused_by_name(column, words):
    X = np.stack([np.arange(3.0), np.array(column)], axis=1)
    with pytest.raises(MicroMLError) as err:
        input_scaling(X, ("fine", "pressure_pa"))
    assert "pressure_pa" in str(err.value) and err.value.key == "target.precision"
    for word in words:
        assert word in str(err.value)


def test_a_feature_spanning_1e9_is_fine():
    X = np.array([[0.0], [1e9], [3e8]])
    s = input_scaling(X, ("big",))
    assert np.abs(s.quantize(X)).max() <= Q_TRAIN


# Linear


def test_linear_weights_fold_the_scaling_and_stay_within_the_overflow_bound():
    rng = np.random.RandomState(1)
    X = rng.randn(200, 5) * [1, 10, 100, 1e-3, 1e6] + [0, 50, -300, 0, 1e7]
    head = LinearClassifier(weights=rng.randn(3, 5), intercept=rng.randn(3))
    for precision in ("fixed16", "fixed8"):
        fixed = quantize(model(head, 5, labels=(0, 1, 2)), X, precision)
        W = fixed.core.weights
        limit = 32767 if precision == "fixed16" else 127
        assert np.abs(W).max() <= limit
        assert (np.abs(W).sum(1) * X_BOUND + np.abs(fixed.core.bias)).max() <= fixed.core.bound <= INT32_MAX
        assert fixed.core.bound <= ACC_LIMIT + 1
        # The worst case an int16 input can produce, exactly, in Python integers.
        for k in range(3):
            worst = sum(abs(int(w)) * X_BOUND for w in W[k]) + abs(int(fixed.core.bias[k]))
            assert worst <= INT32_MAX


def test_clamped_intercepts_change_no_class():
    """A huge intercept (a feature with a large offset) is clamped to what the sum can reach: same classes."""
    rng = np.random.RandomState(2)
    X = rng.randn(300, 4) + [1e4, 0, 0, 0]
    for n_out, labels in ((1, (0, 1)), (4, (0, 1, 2, 3))):
        head = LinearClassifier(weights=rng.randn(n_out, 4) * [1e-3, 1, 1, 1], intercept=rng.randn(n_out) * 1e6)
        fixed = quantize(model(head, 4, labels=labels), X, "fixed16")
        xq = rng.randint(-32768, 32768, size=(5000, 4))
        acc = xq @ fixed.core.weights.T
        # unclamped: the exact intercept at the same scale, as Python integers
        exact = [int(round(b * 2.0 ** e)) for b, e in zip(
            head.intercept + (head.weights * 2.0 ** -fixed.inputs.exponent) @ fixed.inputs.offset, fixed.core.exponent)]
        full = acc.astype(object) + np.array(exact, dtype=object)
        want = (full[:, 0] > 0).astype(int) if n_out == 1 else np.array([list(r).index(max(r)) for r in full])
        assert np.array_equal(fixed.core.run(xq), want)
        assert np.abs(fixed.core.bias).max() <= np.abs(fixed.core.weights).sum(1).max() * X_BOUND + 1


def test_regressor_intercept_stays_in_float():
    X = np.random.RandomState(3).rand(50, 2)
    head = LinearRegressor(weights=np.array([[2.0, -1.0]]), intercept=np.array([1e6]))
    fixed = quantize(model(head, 2, labels=()), X, "fixed16")
    assert fixed.core.bias.tolist() == [0]
    xq, out = fixed.run(X)
    assert np.allclose(fixed.core.values(out)[:, 0], X @ [2.0, -1.0] + 1e6, rtol=1e-6)


def test_feature_selection_is_expanded_to_every_input():
    head = LinearOvo(weights=np.array([[1.0, -2.0]]), intercept=np.array([0.5]), n_classes=2, feature_index=(3, 1))
    X = np.random.RandomState(4).randn(40, 4)
    fixed = quantize(model(head, 4), X, "fixed16")
    assert fixed.core.weights[0, 0] == 0 and fixed.core.weights[0, 2] == 0
    assert fixed.core.weights[0, 3] > 0 > fixed.core.weights[0, 1]


# Trees


def stump(threshold, feature=0):
    return Trees(feature=np.array([feature]), threshold=np.array([threshold]), missing_left=np.array([False]),
                 left=np.array([-1]), right=np.array([-2]), tree_start=np.array([0, 1]),
                 leaf_value=np.array([[1.0, 0.0], [0.0, 1.0]]), nan_aware=False)


def test_threshold_is_floor_in_the_integer_domain():
    X = np.array([[-1.0], [1.0]])                   # 16383 / 1 -> 2^13, offset 0
    fixed = quantize(model(ForestClassifier(stump(0.3)), 1), X, "fixed16")
    assert fixed.core.trees.threshold.tolist() == [int(np.floor(0.3 * 2 ** 13))]


def test_threshold_moves_into_the_gap_between_training_values():
    """scikit-learn 1.9 can put t a float32 step below the next training value: floor() would send that value
    left; the threshold moves below its step instead."""
    b = np.float32(0.5)
    t = float(np.nextafter(b, np.float32(0)))        # just below b
    X = np.array([[-1.0], [0.25], [float(b)], [1.0]])
    fixed = quantize(model(ForestClassifier(stump(t)), 1), X, "fixed16")
    xq = fixed.inputs.quantize(X)[:, 0]
    tq = fixed.core.trees.threshold[0]
    assert xq[1] <= tq < xq[2]
    assert fixed.core.run(fixed.inputs.quantize(X)).tolist() == [0, 0, 1, 1]
    assert fixed.core.trees.exact == 1


def test_extreme_thresholds_clamp():
    X = np.array([[-1.0], [1.0]])
    for t, want in ((1e9, Q_MAX), (-1e9, Q_MISSING), (np.inf, Q_MAX)):
        fixed = quantize(model(ForestClassifier(stump(t)), 1), X, "fixed16")
        assert fixed.core.trees.threshold.tolist() == [want]


def test_single_tree_stores_classes_and_forest_binary_sums_differences():
    X, y = load_breast_cancer(return_X_y=True)
    tree = quantize(lower(RandomForestClassifier(1, max_depth=3, random_state=0).fit(X, y)), X, "fixed16")
    assert tree.core.leaf_class is not None and tree.core.leaf_value is None   # argmax per leaf: exact
    forest = quantize(lower(RandomForestClassifier(5, max_depth=3, random_state=0).fit(X, y)), X, "fixed8")
    assert forest.core.leaf_value.shape[1] == 1 and np.abs(forest.core.leaf_value).max() <= 127


# MLP


def test_activation_tables_interpolate_within_4e_4():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for activation, f in (("tanh", np.tanh), ("logistic", lambda z: 1 / (1 + np.exp(-z)))):
        est = MLPClassifier((5,), activation=activation, max_iter=500, random_state=0).fit(X, y)
        fixed = quantize(lower(est), X, "fixed16")
        z_exp = fixed.core.z_exponent
        zq = np.arange(-Q_MAX, Q_MAX + 1, 7)
        got = fixed.core.activate(zq) / 2.0 ** 14
        assert np.abs(got - f(zq / 2.0 ** z_exp)).max() < 4e-4


def test_mlp_layers_prove_their_bounds():
    X, y = load_breast_cancer(return_X_y=True)
    est = MLPClassifier((16, 8), max_iter=300, random_state=0).fit(X, y)    # raw features: big ranges
    for precision in ("fixed16", "fixed8"):
        fixed = quantize(lower(est), X, precision)
        for layer in fixed.core.layers:
            worst = (np.abs(layer.weights).sum(1) * X_BOUND + np.abs(layer.bias)).max()
            assert worst <= layer.bound <= INT32_MAX
            if layer.shift > 0:
                assert layer.bound + (1 << (layer.shift - 1)) <= INT32_MAX


# Agreement of the integer reference and refusals


@pytest.mark.parametrize("make", [lambda: LogisticRegression(max_iter=3000),
                                  lambda: RandomForestClassifier(10, max_depth=6, random_state=0),
                                  lambda: MLPClassifier((16,), max_iter=1000, random_state=0)],
                         ids=["logreg", "forest", "mlp"])
def test_integer_reference_agrees_with_scikit_learn(make):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = make().fit(X[:400], y[:400])
    fixed = quantize(lower(est), X[:400], "fixed16")
    _, classes = fixed.run(X)
    assert np.mean(classes == est.predict(np.asarray(X, dtype=np.float32))) >= 0.99


def test_models_without_a_fixed_form_list_the_families():
    head = GaussianNb(theta=np.zeros((2, 2)), var=np.ones((2, 2)), log_prior=np.log([0.5, 0.5]))
    nb = Model(n_features=2, head=head, estimator="GaussianNB()", summary="GaussianNB 2 classes x 2 features",
               labels=(0, 1), family="GaussianNB")
    with pytest.raises(MicroMLError) as err:
        quantize(nb, np.zeros((3, 2)), "fixed16")
    text = str(err.value)
    assert "GaussianNB has no fixed-point form" in text and "SVC, NuSVC, SVR and NuSVR" in text and "MLPClassifier" in text
    piped = Model(n_features=2, head=head, estimator="Pipeline()", labels=(0, 1),
                  summary="StandardScaler -> GaussianNB 2 classes x 2 features; StandardScaler folded into the model",
                  family="GaussianNB")
    with pytest.raises(MicroMLError, match=r"^target.precision: GaussianNB has no fixed-point form"):
        quantize(piped, np.zeros((3, 2)), "fixed16")


def test_unfoldable_pipeline_steps_are_refused():
    head = LinearClassifier(weights=np.ones((1, 2)), intercept=np.zeros(1))
    with pytest.raises(MicroMLError, match="Normalize"):
        quantize(model(head, 2, transforms=(Normalize("l2"),)), np.ones((3, 2)), "fixed16")


def test_mlp_hidden_activation_identity_and_regression_heads():
    rng = np.random.RandomState(5)
    X = rng.randn(100, 3)
    head = Mlp(activation="identity", output="identity", weights=(rng.randn(4, 3), rng.randn(2, 4) * [[1], [1e-3]]),
               biases=(rng.randn(4), np.array([100.0, 0.01])))
    fixed = quantize(model(head, 3, labels=()), X, "fixed16")
    last = fixed.core.layers[-1]
    assert last.row_exponent is not None and last.row_exponent[1] > last.row_exponent[0]
    xq, out = fixed.run(X)
    want = (X @ head.weights[0].T + head.biases[0]) @ head.weights[1].T + head.biases[1]
    assert np.allclose(fixed.core.values(out), want, rtol=1e-3, atol=1e-4)
