"""Probabilities that mean something: temperature scaling of a linear head on held-out data
(Guo et al. 2017), and the expected calibration error that measures it."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - mean confidence| x bin share."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The T > 0 minimising the negative log-likelihood of ``softmax(logits / T)`` on ``gold``."""
    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(gold)), gold].mean())
    return float(np.exp(minimize_scalar(nll, bounds=(np.log(1e-2), np.log(1e2)), method="bounded").x))


def calibration_report(logits: np.ndarray, gold: np.ndarray, temperature: float) -> dict:
    """ECE and NLL before and after dividing the logits by ``temperature``."""
    out = {}
    for name, t in (("uncalibrated", 1.0), ("calibrated", temperature)):
        probs = softmax(logits / t, axis=1)
        out[name] = {"ece": expected_calibration_error(probs, gold),
                     "nll": float(-np.log(np.maximum(probs[np.arange(len(gold)), gold], 1e-12)).mean()),
                     "mean_top_probability": float(probs.max(1).mean())}
    return out
