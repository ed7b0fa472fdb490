"""The multi-layer perceptron head (MLPClassifier, MLPRegressor): dense layers, one activation, an output function."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from microml_build.ir import NEAR_TIE, argmax_near_tie, sign_near_tie

# Hidden activations as scikit-learn's ACTIVATIONS (sklearn/neural_network/_base.py), each with its slope
# at z given z and a = f(z): how much it amplifies a small error in z.
ACTIVATIONS = {
    "identity": (lambda z: z, lambda z, a: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0.0).astype(np.float64)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "logistic": (expit, lambda z, a: a * (1.0 - a)),
}

# Output functions (scikit-learn's out_activation_) and the task they imply.
OUTPUTS = {"softmax": "classifier", "logistic": "classifier", "identity": "regressor", "exp": "regressor"}


@dataclass(frozen=True, eq=False)
class Mlp:
    """Dense layers in scikit-learn's order, z = a @ coefs_[k] + intercepts_[k] (the sum, then the bias).

    `weights[k]` is coefs_[k] transposed: one row per neuron, holding the weights of its inputs, the
    order in which the C code reads them. Every layer but the last applies `activation`; the last layer's
    z goes through `output`:
      softmax   multiclass classifier: decisions are the n_classes logits, predict() their argmax
      logistic  binary classifier: the decision is the single logit, predict() is logistic(z) > 0.5
      identity  regressor (squared error): the outputs are z
      exp       regressor (loss='poisson'): the outputs are exp(z)
    """

    activation: str                        # hidden layers: "identity" | "relu" | "tanh" | "logistic"
    output: str                            # "softmax" | "logistic" | "identity" | "exp"
    weights: tuple[np.ndarray, ...]        # layer k: (n_out_k, n_in_k)
    biases: tuple[np.ndarray, ...]         # layer k: (n_out_k,)

    @property
    def task(self) -> str:
        return OUTPUTS[self.output]

    @property
    def n_outputs(self) -> int:
        return len(self.biases[-1])

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(len(b) for b in self.biases[:-1])

    def decisions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last layer's z (classifiers) or outputs (regressors), and a bound on their float32 rounding.

        The scale follows the rounding through the network. Summing w * a rounds each term by about
        |w| |a| times float32's epsilon, and an error already in a is carried on as |w| times it, so a
        neuron's scale is sum |w| * scale(input) + |bias|, starting from |x| (the inputs are exact
        float32). An activation passes its input's scale on times its slope, plus the rounding of its
        own result |a|. The slope is taken over the whole band z +- NEAR_TIE * scale the C value may
        lie in: 1 for a relu that may be active, and the slope at z plus that band (f'' <= 1) for tanh
        and logistic, so a saturated neuron passes on little error, as it does in the C code.
        """
        function, slope = ACTIVATIONS[self.activation]
        a, scale = X, np.abs(X)
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W.T + b
            scale = scale @ np.abs(W).T + np.abs(b)
            if k < len(self.weights) - 1:
                a = function(z)
                band = NEAR_TIE * scale
                gain = slope(z + band, function(z + band)) if self.activation == "relu" else slope(z, a) + band
                scale = np.minimum(gain, 1.0) * scale + np.abs(a)
            else:
                a = z
        if self.output == "exp":
            # exp turns an absolute error e in z into a relative one: exp(z + e) = exp(z) (1 + e + ...).
            a = np.exp(a)
            scale = a * (scale + 1.0)
        return a, scale

    def predict_index(self, values: np.ndarray) -> np.ndarray:
        if self.output == "logistic":
            # scikit-learn thresholds the probability: LabelBinarizer.inverse_transform(y > 0.5).
            return (expit(values[:, 0]) > 0.5).astype(int)
        # argmax of the softmax, as scikit-learn: exp() can merge logits a rounding apart, and np.argmax
        # then picks the lowest index, a float64 near-tie that the C argmax of the logits may not repeat.
        shifted = np.exp(values - values.max(axis=1, keepdims=True))
        return np.argmax(shifted / shifted.sum(axis=1, keepdims=True), axis=1)

    def near_tie(self, values: np.ndarray, scales: np.ndarray) -> np.ndarray:
        if self.output == "logistic":
            return sign_near_tie(values, scales)
        return argmax_near_tie(values, scales)
