"""MLPClassifier and MLPRegressor -> Mlp: each layer's weights transposed to one row per neuron."""

from __future__ import annotations

import numpy as np

from microml_build.errors import MicroMLError
from microml_build.ir import Model
from microml_build.ir.mlp import ACTIVATIONS, OUTPUTS, Mlp
from microml_build.lower.common import describe, reject


def lower_mlp(est) -> Model:
    name = type(est).__name__
    if est.activation not in ACTIVATIONS:
        reject(est, "activation", "it has no C form", "use activation='relu', 'tanh', 'logistic' or 'identity'")
    if est.out_activation_ not in OUTPUTS:
        raise MicroMLError(f"{name} with output function {est.out_activation_!r} is not supported",
                           fix="use a 1-D y of class labels (MLPClassifier) or loss='squared_error' or "
                               "'poisson' (MLPRegressor)")
    classifier = OUTPUTS[est.out_activation_] == "classifier"
    if classifier and est.out_activation_ == "logistic" and est.n_outputs_ != 1:
        # A 2-D indicator y trains one logistic output per label and predict() returns a 0/1 row per
        # sample, not one class: the header's API (one class index) cannot express that.
        raise MicroMLError(f"{name} trained on a 2-D y (multi-label, {est.n_outputs_} labels) is not supported: "
                           "predict() then returns a row of 0/1 per sample, not one class",
                           fix="train on a 1-D y of class labels, or one MLPClassifier per label")
    if classifier and len(est.classes_) < 2:
        raise MicroMLError(f"{name} was trained on a single class ({est.classes_[0]!r}): there is nothing to predict",
                           fix="train on data with at least two classes")
    weights = tuple(np.asarray(W, dtype=np.float64).T.copy() for W in est.coefs_)
    biases = tuple(np.asarray(b, dtype=np.float64).copy() for b in est.intercepts_)
    limit = np.finfo(np.float32).max
    for k, (W, b) in enumerate(zip(weights, biases)):
        if not (np.all(np.abs(W) < limit) and np.all(np.abs(b) < limit)):
            raise MicroMLError(f"{name}: layer {k + 1} holds weights float32 cannot represent (inf, NaN or "
                               "beyond 3.4e38): the training diverged",
                               fix="scale the features (e.g. StandardScaler in a Pipeline), lower "
                                   "learning_rate_init or raise alpha")
    head = Mlp(activation=est.activation, output=est.out_activation_, weights=weights, biases=biases)
    n_features = weights[0].shape[1]
    widths = "-".join(str(n) for n in (n_features, *head.hidden_widths, head.n_outputs))
    n_weights = sum(W.size + b.size for W, b in zip(weights, biases))
    summary = f"{name}({est.activation}) {widths} neurons, {n_weights} weights, {est.out_activation_} output"
    params = {"hidden_layer_sizes": list(head.hidden_widths), "activation": est.activation,
              "output": est.out_activation_, "alpha": est.alpha, "n_iter": int(est.n_iter_)}
    labels = tuple(est.classes_.tolist()) if classifier else ()
    return Model(n_features=n_features, labels=labels, head=head, estimator=describe(est), summary=summary,
                 params=params)
