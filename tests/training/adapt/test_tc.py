"""``adapt tc`` on a tiny BERT: logistic regression and LoRA fine-tuning both learn and round-trip."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mtpf_deploy.data.tokenization import load_tokenizer
from mtpf_deploy.training.adapt.tc import TcAdaptConfig, adapt_tc, load_tc_classifier, logreg_head, predict_labels


def _accuracy(tiny_bert, out, examples):
    model, labels = load_tc_classifier(str(tiny_bert), out)
    pred = predict_labels(model, load_tokenizer(tiny_bert), [x.text for x in examples], labels, 128)
    return float(np.mean([p == x.label for p, x in zip(pred, examples)]))


def test_logistic_regression_learns_and_round_trips(tiny_bert, tc_splits, tmp_path):
    out = tmp_path / "tc"
    metrics = adapt_tc(TcAdaptConfig(backbone=str(tiny_bert), n_experiments=3, samples_per_label="16"),
                       tc_splits, out, log=lambda m: None)
    assert metrics["test"]["accuracy"] > 0.8  # chance is 1/3
    assert metrics["mteb_protocol"]["n_experiments"] == 3
    assert _accuracy(tiny_bert, out, tc_splits["test"]) == pytest.approx(metrics["test"]["accuracy"])
    task = json.loads((out / "task.json").read_text())
    assert task["head"] == "logistic-regression" and task["pooling"] == "mean" and task["normalize"] is True
    assert not (out / "adapter_model.safetensors").exists()  # no TC LoRA given: head only


def test_finetune_learns_and_round_trips(tiny_bert, tc_splits, tmp_path):
    out = tmp_path / "ft"
    cfg = TcAdaptConfig(backbone=str(tiny_bert), finetune=True, lora_r=4, lora_alpha=8, warmup_epochs=2, epochs=10,
                        lora_lr=3e-3, head_lr=1e-2, batch_size=32)
    metrics = adapt_tc(cfg, tc_splits, out, log=lambda m: None)
    assert metrics["test"]["accuracy"] > 0.8
    assert (out / "adapter_model.safetensors").exists()
    assert _accuracy(tiny_bert, out, tc_splits["test"]) == pytest.approx(metrics["test"]["accuracy"])


def test_binary_logreg_head_matches_predict_proba():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    y = np.where(x[:, 0] > 0, "pos", "neg")
    clf = LogisticRegression().fit(x, y)
    head = logreg_head(clf, ["neg", "pos"])
    z = x @ head["weight"].T + head["bias"]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(p, clf.predict_proba(x), atol=1e-5)
