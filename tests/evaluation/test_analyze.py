"""Sec. 5 analysis: perturbations keep entity types and sentence structure; the measurements against
hand-computed values; the command end to end on a tiny model."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.data.bio import bio_entity_spans
from mtpf_deploy.data.types import TaggedSentence
from mtpf_deploy.evaluation.analyze import mean_pairwise_cosine
from mtpf_deploy.evaluation.perturb import entity_pool, perturb, perturbation_set
from tests.conftest import make_ner_sentences


def test_perturbation_keeps_types_and_structure():
    sentences = make_ner_sentences(300, 5) + [
        TaggedSentence(("New", "York", "is", "big"), ("B-LOC", "I-LOC", "O", "O")),
        TaggedSentence(("Anna", "met", "Bo", "in", "Oslo"), ("B-PER", "O", "B-PER", "O", "B-LOC"))]
    pool = entity_pool(sentences)
    rng = random.Random(0)
    changed = 0
    for s in sentences:
        p = perturb(s, pool, rng)
        assert len(p.words) == len(p.tags)
        before, after = bio_entity_spans(s.tags), bio_entity_spans(p.tags)
        assert [k for k, _, _ in before] == [k for k, _, _ in after]  # same entity types, same order
        outside = lambda x: [w for w, t in zip(x.words, x.tags) if t == "O"]  # noqa: E731
        assert outside(s) == outside(p)  # the words around the entities are untouched
        for kind, first, last in after:
            assert tuple(p.words[first : last + 1]) in pool[kind]
        changed += p.words != s.words
    assert changed > 0.8 * sum(bool(bio_entity_spans(s.tags)) for s in sentences)


def test_multiword_replacement_gets_b_then_i_tags():
    pool = {"LOC": [("Oslo",), ("New", "York", "City")]}
    p = perturb(TaggedSentence(("to", "Oslo", "now"), ("O", "B-LOC", "O")), pool, random.Random(0))
    assert p == TaggedSentence(("to", "New", "York", "City", "now"), ("O", "B-LOC", "I-LOC", "I-LOC", "O"))


def test_perturbation_set_is_seeded_and_skips_sentences_without_entities():
    sentences = make_ner_sentences(50, 1) + [TaggedSentence(("no", "entity"), ("O", "O"))] * 20
    a = perturbation_set(sentences, 10, 4, seed=3)
    assert a == perturbation_set(sentences, 10, 4, seed=3) and len(a) == 10
    assert all(len(v) == 4 and bio_entity_spans(o.tags) for o, v in a)


def test_mean_pairwise_cosine_by_hand():
    states = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    # pairs: (1,2): 0, (1,3): 1/sqrt2, (2,3): 1/sqrt2  -> mean sqrt2/3
    assert mean_pairwise_cosine(states) == pytest.approx(np.sqrt(2) / 3)
    assert mean_pairwise_cosine(states[:1]) is None


def test_analyze_command_on_tiny_models(tiny_bert, tmp_path):
    from tests.conftest import vocabulary
    from tests.tiny_bert import make_tiny_bert

    other = make_tiny_bert(tmp_path / "other", vocabulary(), seed=1)
    bio = tmp_path / "test.bio"
    bio.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s.words, s.tags))
                               for s in make_ner_sentences(80, 9)) + "\n")
    out = tmp_path / "analysis"
    args = ["analyze", "--model", f"a={tiny_bert}", "--model", f"b={other}", "--input", str(bio), "--out", str(out),
            "--sentences", "20", "--variants", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "analysis.json").read_text())
    assert summary["settings"]["sentences"] == 20 and set(summary["models"]) == {"a", "b"}
    for m in summary["models"].values():
        assert m["perturbation_similarity"]["pairs"] == 60 and -1 <= m["perturbation_similarity"]["mean"] <= 1
        assert 0 < m["token_similarity"]["sentences"] <= 20
    assert summary["models"]["a"]["perturbation_similarity"] != summary["models"]["b"]["perturbation_similarity"]
    for png in ("perturbation_similarity.png", "token_similarity.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(main, args)  # cached per model: same numbers
    assert again.exit_code == 0 and json.loads((out / "analysis.json").read_text())["models"] == summary["models"]


@pytest.mark.parametrize("args,message", [
    (["--model", "x"], "expected NAME=PATH"),
    (["--model", "a/b=default"], "expected NAME=PATH"),
    (["--model", "a=default", "--model", "a=default"], "given twice"),
    (["--model", "a=default"], "give --data-root"),
])
def test_analyze_bad_arguments(tmp_path, args, message):
    result = CliRunner().invoke(main, ["analyze", *args, "--out", str(tmp_path)])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
