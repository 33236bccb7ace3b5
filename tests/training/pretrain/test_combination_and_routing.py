"""What one multi-task step sends into each parameter, compared with single-task steps on a
4-layer model without dropout (so every run sees the same batches and the same forward):
sum = g_ner + g_tc, GLS/FLS = weights from the losses, PCGrad = projected shared gradients, and
the task-primary LoRAs sit on the last 2 of 4 layers, each fed only by its own task's loss."""
from __future__ import annotations

import random

import pytest
import torch

from mtpf_deploy.training.multi_objective.pcgrad import pcgrad
from mtpf_deploy.training.pretrain.trainer import Pretrainer
from tests.conftest import vocabulary
from tests.tiny_bert import make_tiny_bert
from tests.training.pretrain.conftest import QUIET, make_config


@pytest.fixture(scope="module")
def four_layers(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("bert4"), vocabulary(), layers=4, dropout=0.0, seed=3)


def step_grads(bert, pf_data, tmp_path, tasks, **kw) -> tuple[dict[str, torch.Tensor], dict[str, float], Pretrainer]:
    """The gradients one ``train_step(tasks)`` leaves (the optimizer step is skipped), and its losses."""
    cfg = make_config(bert, pf_data, lora_dropout=0.0, clip_grad_norm=0.0, **kw)
    trainer = Pretrainer(cfg, tmp_path / f"run{random.random()}", QUIET)
    trainer.optimizer.step = lambda *a, **k: None  # keep the weights: we read the gradients
    stats = trainer.train_step(tasks)
    grads = {n: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
             for n, p in trainer.model.named_parameters() if p.requires_grad}
    return grads, stats, trainer


def is_shared(name: str) -> bool:
    return "lora_" not in name and not name.startswith("ner_head")


@pytest.fixture(scope="module")
def single(four_layers, pf_data, tmp_path_factory):
    """Gradients of an NER-only and a TC-only step with the sum combination."""
    tmp = tmp_path_factory.mktemp("single")
    ner, ner_stats, _ = step_grads(four_layers, pf_data, tmp, ["ner"])
    tc, tc_stats, _ = step_grads(four_layers, pf_data, tmp, ["tc"])
    return ner, tc, ner_stats["loss_ner"], tc_stats["loss_tc"]


def test_loras_sit_on_the_last_two_of_four_layers(four_layers, pf_data, tmp_path):
    _, _, trainer = step_grads(four_layers, pf_data, tmp_path, ["ner", "tc"])
    layers = {int(n.split("encoder.layer.")[1].split(".")[0]) for n, _ in trainer.model.named_parameters() if "lora_" in n}
    assert layers == {2, 3} and trainer.lora_layers == [2, 3]


def test_mixed_round_robin_step_routes_each_loss_to_its_lora(four_layers, pf_data, tmp_path, single):
    ner, tc, _, _ = single
    both, _, _ = step_grads(four_layers, pf_data, tmp_path, ["ner", "tc"])
    for family in ("ner", "tc"):  # (B starts at zero, so at step 0 only the B matrices get a gradient)
        assert sum(float(g.abs().sum()) for n, g in both.items() if "lora_B" in n and f".{family}." in n) > 0
    for name, g in both.items():
        if "lora_" in name and ".ner." in name:
            torch.testing.assert_close(g, ner[name], atol=1e-6, rtol=1e-5)  # the TC loss adds nothing here
        elif "lora_" in name and ".tc." in name:
            torch.testing.assert_close(g, tc[name], atol=1e-6, rtol=1e-5)
        else:  # backbone and NER head: the sum of both tasks
            torch.testing.assert_close(g, ner[name] + tc[name], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("loss,focus", [("gls", []), ("fls", ["tc"])])
def test_gls_and_fls_weight_each_task_gradient(four_layers, pf_data, tmp_path, single, loss, focus):
    ner, tc, l_ner, l_tc = single
    grads, stats, _ = step_grads(four_layers, pf_data, tmp_path, ["ner", "tc"], loss=loss, focus=focus)
    assert stats["loss_ner"] == pytest.approx(l_ner, rel=1e-5) and stats["loss_tc"] == pytest.approx(l_tc, rel=1e-5)
    total = stats["loss"]
    if loss == "gls":  # (L_ner L_tc)^(1/2): d/dL_t = total / (2 L_t)
        w_ner, w_tc = total / (2 * l_ner), total / (2 * l_tc)
        assert total == pytest.approx((l_ner * l_tc) ** 0.5, rel=1e-5)
    else:  # (L_ner L_tc)^(1/2) * L_tc: d/dL_ner = total / (2 L_ner), d/dL_tc = 3 total / (2 L_tc)
        w_ner, w_tc = total / (2 * l_ner), 3 * total / (2 * l_tc)
        assert total == pytest.approx((l_ner * l_tc) ** 0.5 * l_tc, rel=1e-5)
    assert abs(w_ner - 1) > 1e-3 or abs(w_tc - 1) > 1e-3  # the check below would not tell GLS from sum otherwise
    for name, g in grads.items():
        torch.testing.assert_close(g, w_ner * ner[name] + w_tc * tc[name], atol=1e-5, rtol=1e-4)


def test_pcgrad_projects_the_shared_gradients(four_layers, pf_data, tmp_path, single):
    ner, tc, _, _ = single
    grads, _, trainer = step_grads(four_layers, pf_data, tmp_path, ["ner", "tc"], pcgrad=True)
    shared = [n for n, p in trainer.model.named_parameters() if p.requires_grad and is_shared(n)]
    flat = lambda g: torch.cat([g[n].flatten() for n in shared])  # noqa: E731
    expected = pcgrad([flat(ner), flat(tc)], random.Random("0:pcgrad:0"))
    torch.testing.assert_close(flat(grads), expected, atol=1e-5, rtol=1e-4)
    conflict = torch.dot(flat(ner), flat(tc)) < 0
    assert conflict == (not torch.allclose(expected, flat(ner) + flat(tc)))  # projection happened iff they conflict
    for name, g in grads.items():  # LoRAs and head are not projected
        if not is_shared(name):
            torch.testing.assert_close(g, ner[name] + tc[name], atol=1e-6, rtol=1e-5)
