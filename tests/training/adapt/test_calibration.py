"""Temperature scaling and ECE (issue 8: TC probabilities should mean something)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from mtpf_deploy.training.adapt.calibration import calibration_report, expected_calibration_error, fit_temperature
from mtpf_deploy.training.adapt.tc import TcAdaptConfig, adapt_tc


def test_ece_matches_a_hand_computed_example():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    gold = np.array([0, 1, 1, 0])
    # bins (15 equal): 0.9 -> correct; 0.8 -> wrong; 0.7 -> correct; 0.6 -> correct, each alone in its bin
    expected = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.7) + abs(1 - 0.6)) / 4
    assert expected_calibration_error(probs, gold) == pytest.approx(expected)
    assert expected_calibration_error(np.eye(3), np.arange(3)) == 0.0


def test_fitted_temperature_recovers_the_one_that_made_the_data():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, (4000, 5))
    gold = np.array([rng.choice(5, p=p) for p in softmax(true_logits, axis=1)])
    shrunk = true_logits / 4.0  # a head as flat as the issue's: temperature should be 1/4
    t = fit_temperature(shrunk, gold)
    assert t == pytest.approx(0.25, rel=0.1)
    report = calibration_report(shrunk, gold, t)
    assert report["calibrated"]["ece"] < report["uncalibrated"]["ece"] / 3
    assert report["calibrated"]["nll"] < report["uncalibrated"]["nll"]
    assert report["calibrated"]["mean_top_probability"] > report["uncalibrated"]["mean_top_probability"]


def test_adapt_tc_calibrates_without_changing_predictions(tiny_bert, tc_splits, tmp_path):
    quiet = lambda m: None  # noqa: E731
    base = dict(backbone=str(tiny_bert), n_experiments=0)
    plain = adapt_tc(TcAdaptConfig(**base, calibrate="none"), tc_splits, tmp_path / "a", log=quiet)
    scaled = adapt_tc(TcAdaptConfig(**base), tc_splits, tmp_path / "b", log=quiet)
    assert "calibration" not in plain
    c = scaled["calibration"]
    assert c["fitted_on"] == "20% of train held out" and c["temperature"] > 0 and c["temperature"] != 1
    assert c["calibrated"]["nll"] <= c["uncalibrated"]["nll"] + 1e-9
    assert scaled["test"]["accuracy"] == plain["test"]["accuracy"]  # a temperature never moves the argmax
    assert "ece" in scaled["test"] and 0 <= scaled["test"]["ece"] <= 1
