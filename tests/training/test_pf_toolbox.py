"""The multi-task toolbox against hand-computed references: InfoNCE, GLS/FLS, PCGrad, AdaBelief,
GradCache, sampling order, k-means pseudo labels."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from mtpf_deploy.training.adabelief import AdaBelief
from mtpf_deploy.training.balancing import combine_losses
from mtpf_deploy.training.gradcache import CachedContrastive
from mtpf_deploy.training.objectives import info_nce
from mtpf_deploy.training.pcgrad import pcgrad
from mtpf_deploy.training.sampling import EpochSampler, HierarchicalSampler, tasks_for_step


def test_info_nce_hand_computed():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    # normalised: a = [1,0],[0,1]; p = [1,0],[s,s] with s = 1/sqrt(2)
    s = 1 / math.sqrt(2)
    t = 0.05
    sims = [[1.0, s], [0.0, s]]
    expected = -np.mean([sims[i][i] / t - math.log(sum(math.exp(v / t) for v in sims[i])) for i in range(2)])
    assert info_nce(a, p, t).item() == pytest.approx(expected, rel=1e-5)
    # a perfect, well separated batch has a near-zero loss; swapping positives makes it large
    eye = torch.eye(4)
    assert info_nce(eye, eye).item() < 1e-6
    assert info_nce(eye, eye[[1, 0, 3, 2]]).item() > 10


def test_gls_and_fls_formulas():
    losses = {"ner": torch.tensor(2.0), "tc": torch.tensor(8.0), "x": torch.tensor(0.5)}
    assert combine_losses(losses, "sum").item() == pytest.approx(10.5)
    assert combine_losses(losses, "gls").item() == pytest.approx((2 * 8 * 0.5) ** (1 / 3), rel=1e-6)
    assert combine_losses(losses, "fls", ("tc",)).item() == pytest.approx((2 * 8 * 0.5) ** (1 / 3) * 8, rel=1e-6)
    assert combine_losses(losses, "fls", ("tc", "ner")).item() == pytest.approx(
        (2 * 8 * 0.5) ** (1 / 3) * (8 * 2) ** 0.5, rel=1e-6)
    # the gradient of GLS w.r.t. each loss is total / (n * L_i)
    leaves = {k: v.clone().requires_grad_(True) for k, v in losses.items()}
    total = combine_losses(leaves, "gls")
    total.backward()
    for k, v in leaves.items():
        assert v.grad.item() == pytest.approx(total.item() / (3 * v.item()), rel=1e-5)
    with pytest.raises(ValueError, match="fls needs focus"):
        combine_losses(losses, "fls")


def test_pcgrad_projects_conflicting_gradients():
    g1 = torch.tensor([1.0, 0.0])
    g2 = torch.tensor([-1.0, 1.0])  # conflicts with g1 (dot -1)
    # g1' = g1 - (g1.g2/|g2|^2) g2 = [1,0] + 0.5*[-1,1] = [0.5, 0.5]
    # g2' = g2 - (g2.g1/|g1|^2) g1 = [-1,1] + [1,0] = [0, 1]
    out = pcgrad([g1, g2])
    assert torch.allclose(out, torch.tensor([0.5, 1.5]))
    assert torch.dot(torch.tensor([0.5, 0.5]), g2) >= -1e-6  # projected g1 no longer conflicts with g2
    # non-conflicting gradients are summed unchanged
    assert torch.allclose(pcgrad([torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])]), torch.tensor([2.0, 1.0]))
    assert torch.equal(g1, torch.tensor([1.0, 0.0]))  # inputs untouched


def test_adabelief_matches_reference_update():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    opt = AdaBelief([w], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    ref = w.detach().numpy().astype(np.float64).copy()
    m = np.zeros(5)
    s = np.zeros(5)
    for t in range(1, 6):
        g = np.cos(np.arange(5) * t)  # a fixed gradient sequence
        w.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        ref *= 1 - 0.1 * 0.01
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * (g - m) ** 2 + 1e-8
        ref -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-5, atol=1e-6)


def test_gradcache_equals_full_batch_gradient():
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Dropout(0.3))

    def embed(b):
        return enc(b["input_ids"]).mean(1)

    a = {"input_ids": torch.randint(0, 50, (12, 5))}
    p = {"input_ids": torch.randint(0, 50, (12, 5))}
    enc.train()
    torch.manual_seed(1)
    cache = CachedContrastive(embed, [a, p], chunk_size=4)
    loss_cached = cache.loss(info_nce)
    cache.backward(loss_cached, 0.5)
    g_cached = enc[0].weight.grad.clone()
    enc.zero_grad()
    # the same dropout masks: replay the RNG states the chunks saw, on the whole batch chunk by chunk
    torch.manual_seed(1)
    reps = [torch.cat([embed({"input_ids": x["input_ids"][i : i + 4]}) for i in range(0, 12, 4)]) for x in (a, p)]
    loss_full = info_nce(*reps)
    (0.5 * loss_full).backward()
    assert loss_cached.item() == pytest.approx(loss_full.item(), rel=1e-6)
    assert torch.allclose(enc[0].weight.grad, g_cached, atol=1e-6)


def test_round_robin_alternate_and_proportional_order():
    sizes = {"ner": 10, "tc": 1000}
    assert [tasks_for_step(s, ["ner", "tc"], "round-robin", sizes, 0) for s in range(3)] == [["ner", "tc"]] * 3
    assert [tasks_for_step(s, ["ner", "tc"], "alternate", sizes, 0)[0] for s in range(4)] == ["ner", "tc", "ner", "tc"]
    drawn = [tasks_for_step(s, ["ner", "tc"], "proportional", sizes, 0)[0] for s in range(500)]
    assert 0.95 < drawn.count("tc") / 500 < 1.0 and drawn == [tasks_for_step(s, ["ner", "tc"], "proportional", sizes, 0)[0] for s in range(500)]
    # round-robin resampling: the small dataset restarts (new epoch) while the large one continues
    small, large = EpochSampler(4, 2, "s"), EpochSampler(100, 2, "l")
    seen_small = [tuple(small.next_batch()) for _ in range(6)]
    assert small.epoch == 2 and sorted(i for b in seen_small[:2] for i in b) == [0, 1, 2, 3]
    assert large.next_batch() and large.epoch == 0


def test_samplers_resume_exactly():
    h = HierarchicalSampler({"a": 30, "b": 7}, 4, seed=3)
    for _ in range(5):
        h.next_batch()
    state = h.state_dict()
    rest = [h.next_batch() for _ in range(10)]
    again = HierarchicalSampler({"a": 30, "b": 7}, 4, seed=3)
    again.load_state_dict(state)
    assert [again.next_batch() for _ in range(10)] == rest
    names = [HierarchicalSampler({"a": 1000, "b": 10}, 4, seed=s).next_batch()[0] for s in range(200)]
    assert names.count("a") > 180  # size-weighted dataset choice


def test_kmeans_pseudo_labels_are_deterministic(tiny_bert):
    from mtpf_deploy.training.pseudo_label import pseudo_label_kmeans

    sentences = ["alice smith went to paris", "bob met carol in rome", "the big team saw a goal",
                 "pizza and pasta with soup", "a laptop and a phone"] * 4
    first = pseudo_label_kmeans(str(tiny_bert), sentences, k=6, seed=0)
    second = pseudo_label_kmeans(str(tiny_bert), sentences, k=6, seed=0)
    assert first == second
    assert len(first) == 20 and first[0].words == ("alice", "smith", "went", "to", "paris")
    labels = {t for s in first for t in s.tags}
    assert 2 < len(labels) <= 6 and all(t.startswith("C") for t in labels)
    # identical words in identical contexts share a cluster
    assert first[0].tags == first[5].tags


def test_spacy_teachers(tmp_path):
    from mtpf_deploy.training.pseudo_label import (pseudo_label_spacy_kmeans, pseudo_label_spacy_ner,
                                                   write_pseudo_corpus)
    from mtpf_deploy.training.pretrain import read_ner_corpus

    sentences = ["Angela Merkel visited Paris on Monday.", "Apple sold 3 million iPhones in China.",
                 "The weather was nice."] * 3
    tagged = pseudo_label_spacy_ner(sentences)
    tags = {t for s in tagged for t in s.tags}
    assert "B-PERSON" in tags and "B-GPE" in tags and all(t == "O" or t[:2] in ("B-", "I-") for t in tags)
    assert tagged[0].words[:2] == ("Angela", "Merkel") and tagged[0].tags[:2] == ("B-PERSON", "I-PERSON")
    km = pseudo_label_spacy_kmeans(sentences, k=5, seed=0)
    assert km == pseudo_label_spacy_kmeans(sentences, k=5, seed=0) and len({t for s in km for t in s.tags}) <= 5
    write_pseudo_corpus(tmp_path / "c", tagged, {"method": "spacy-ner"})
    read_back, labels = read_ner_corpus(tmp_path / "c")
    assert read_back == tagged and "B-PERSON" in labels


def test_pseudo_label_cli(tiny_bert, tmp_path):
    from click.testing import CliRunner

    from mtpf_deploy.cli import main

    corpus = tmp_path / "leipzig.txt"
    corpus.write_text("".join(f"{i}\talice smith went to paris number {i % 7}\n" for i in range(40)))
    res = CliRunner().invoke(main, ["pseudo-label", "--teacher", str(tiny_bert), "--corpus", str(corpus), "--k", "4",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    meta = __import__("json").loads((tmp_path / "out/meta.json").read_text())
    assert meta["sentences"] == 40 and meta["k"] == 4 and len(meta["labels"]) <= 4
    assert (tmp_path / "out/train.tsv").read_text().startswith("alice\tC")  # the Leipzig id column is dropped
    res = CliRunner().invoke(main, ["pseudo-label", "--teacher", str(tiny_bert), "--corpus", str(corpus), "--k", "500",
                                    "--out", str(tmp_path / "big")])
    assert res.exit_code == 1 and "into K=500 clusters" in res.output and not (tmp_path / "big").exists()
