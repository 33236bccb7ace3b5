"""Entity-level metrics (seqeval, strict IOB2) on constructed examples with hand-computed scores."""
from __future__ import annotations

import pytest

from mtpf_deploy.training.metrics import ner_metrics, tc_metrics


def test_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"],  # PER right, LOC typed wrong
            ["O", "B-ORG", "O", "O"]]  # ORG cut short: wrong span
    m = ner_metrics(gold, pred)
    # gold 3 entities, predicted 3, correct 1 -> P = R = F1 = 1/3
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(1 / 3) and m["sentences"] == 2
    assert m["per_type"]["PER"]["f1-score"] == 1.0 and m["per_type"]["LOC"]["f1-score"] == 0.0


def test_strict_iob2_does_not_accept_an_entity_starting_with_i():
    gold = [["B-LOC", "I-LOC", "O"]]
    assert ner_metrics(gold, [["I-LOC", "I-LOC", "O"]])["f1"] == 0.0  # strict mode: no B- start, no entity
    assert ner_metrics(gold, gold)["f1"] == 1.0


def test_no_predictions_is_zero_not_an_error():
    m = ner_metrics([["B-PER", "O"]], [["O", "O"]])
    assert m["f1"] == 0.0 and m["precision"] == 0.0


def test_tc_metrics_by_hand():
    m = tc_metrics(["a", "a", "b", "c"], ["a", "b", "b", "c"])
    assert m["accuracy"] == 0.75
    # per-class F1: a 2/3, b 2/3, c 1 -> macro 7/9
    assert m["f1_macro"] == pytest.approx(7 / 9)
