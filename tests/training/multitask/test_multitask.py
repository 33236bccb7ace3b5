"""adapt multitask: SMART against hand-computed values, task sampling, balancing, heads and losses, and a
tiny run -> export -> runtime with pair tasks at parity with the PyTorch model."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.data.types import LabeledText, TextPair
from mtpf_deploy.errors import InputError, MtpfError
from mtpf_deploy.training.multitask.config import MultitaskConfig
from mtpf_deploy.training.multitask.sampling import epoch_schedule
from mtpf_deploy.training.multitask.smart import ProximalAnchor, adversarial_smoothness, smoothness_loss, symmetric_kl
from mtpf_deploy.training.multitask.trainer import MultitaskTrainer, adapt_multitask, total_score
from tests.conftest import make_tc_examples

SENTIMENT = {"sport": "positive", "food": "very positive", "tech": "negative"}


def synthetic_splits(n: int = 120, seed: int = 0) -> dict:
    """sst: the topic decides the label; para: same topic = paraphrase; sts: 4.5 same topic, 0.5 otherwise."""
    def part(k: int, s: int):
        ex = make_tc_examples(2 * k, s)
        return {"sst": [LabeledText(x.text, SENTIMENT[x.label]) for x in ex[:k]],
                "para": [TextPair(a.text, b.text, label=str(int(a.label == b.label))) for a, b in zip(ex[:k], ex[k:])],
                "sts": [TextPair(a.text, b.text, score=4.5 if a.label == b.label else 0.5) for a, b in zip(ex[:k], ex[k:])]}
    tr, dv, te = part(n, seed + 1), part(40, seed + 2), part(40, seed + 3)
    return {t: {"train": tr[t], "dev": dv[t], "test": te[t]} for t in ("sst", "para", "sts")}


@pytest.fixture(scope="module")
def splits():
    return synthetic_splits()


# ---------------------------------------------------------------------------------------------- SMART
def test_symmetric_kl_by_hand():
    p, q = torch.tensor([[0.0, 0.0]]), torch.log(torch.tensor([[0.9, 0.1]]))
    by_hand = (0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)) + (0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5))
    assert symmetric_kl(p, q, "multiclass").item() == pytest.approx(by_hand, rel=1e-5)
    # binary: one logit z is Bernoulli(sigmoid(z)); logit(0.9) vs 0 is the same pair of distributions
    assert symmetric_kl(torch.tensor([0.0]), torch.tensor([math.log(9.0)]), "binary").item() == pytest.approx(by_hand, rel=1e-5)
    assert smoothness_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0]), "regression").item() == pytest.approx(2.5)


def test_adversarial_step_by_hand_on_a_linear_model():
    """f(x) = w . x, l_s = squared error. From delta0 = [0.1, 0]: grad = 2 (w . delta0) w = [0.8, 0.4],
    max-norm scaled [1, 0.5]; delta1 = delta0 + 0.1 [1, 0.5] = [0.2, 0.05], clipped to 0.15 -> [0.15, 0.05];
    R_s = (w . delta1)^2 = (0.3 + 0.05)^2 = 0.1225."""
    w = torch.tensor([2.0, 1.0])
    x = torch.tensor([[1.0, 0.0]])
    f = lambda e: e @ w  # noqa: E731
    clean = f(x)
    r = adversarial_smoothness(f, x, clean, "regression", epsilon=0.15, step_size=0.1, steps=1,
                               delta=torch.tensor([[0.1, 0.0]]))
    assert r.item() == pytest.approx(0.1225, rel=1e-6)
    r0 = adversarial_smoothness(f, x, clean, "regression", epsilon=0.15, step_size=0.1, steps=0,
                                delta=torch.tensor([[0.1, 0.0]]))
    assert r0.item() == pytest.approx(0.04, rel=1e-6) and r.item() > r0.item()  # the ascent step increases it


def test_adversarial_step_increases_smoothness_loss_on_a_tiny_model(tiny_bert, splits):
    cfg = MultitaskConfig(backbone=str(tiny_bert), tasks=["sst"], smart_weight=1.0, epochs=1)
    trainer = MultitaskTrainer(cfg, {"sst": splits["sst"]}, log=lambda m: None)
    trainer.model.eval()
    b = trainer.data["train"]["sst"].batch(list(range(8)), trainer.pad)
    embeds = trainer.model.embeddings(b["input_ids"])
    f = lambda e: trainer.model("sst", e, b["attention_mask"])  # noqa: E731
    clean = f(embeds)
    delta = torch.randn(embeds.shape, generator=torch.Generator().manual_seed(0)) * 1e-3
    before = adversarial_smoothness(f, embeds, clean, "multiclass", 1e-2, 1e-3, 0, delta=delta)
    after = adversarial_smoothness(f, embeds, clean, "multiclass", 1e-2, 1e-3, 3, delta=delta)
    assert after.item() > before.item() > 0


def test_smart_at_zero_strength_is_the_plain_loss(tiny_bert, splits):
    from mtpf_deploy.training.multitask.model import task_loss

    cfg = MultitaskConfig(backbone=str(tiny_bert), tasks=["sts"], dropout=0.0, lora_dropout=0.0)
    trainer = MultitaskTrainer(cfg, {"sts": splits["sts"]}, log=lambda m: None)
    b = trainer.data["train"]["sts"].batch(list(range(8)), trainer.pad)
    loss, parts = trainer._task_objective("sts", b)
    plain = task_loss("sts", trainer.model("sts", trainer.model.embeddings(b["input_ids"]), b["attention_mask"]), b["target"])
    assert loss.item() == pytest.approx(plain.item(), rel=1e-6) and set(parts) == {"loss_sts"}


@pytest.mark.parametrize("mode", ["full", "shared-lora"])
def test_bregman_term_uses_the_anchor_and_keeps_the_model_training(tiny_bert, splits, mode):
    """The encoder (whose modules the model reaches under two names) keeps its own parameters after a
    Bregman step, the next STS step (no head: only the encoder trains) still updates it, and the term
    is l_s(f(x; θ), f(x; θ̃)) with θ̃ in a separate copy of the model."""
    import copy

    cfg = MultitaskConfig(backbone=str(tiny_bert), mode=mode, tasks=["sts"], bregman_weight=1.0, dropout=0.0,
                          lora_dropout=0.0, lr=1e-2)
    trainer = MultitaskTrainer(cfg, {"sts": splits["sts"]}, log=lambda m: None)
    params = dict(trainer.model.named_parameters(remove_duplicate=False))
    for _ in range(2):
        trainer.train_step([("sts", list(range(16)))])
    after = dict(trainer.model.named_parameters(remove_duplicate=False))
    assert all(after[n] is p and (p.requires_grad or "lora_" not in n and mode != "full") for n, p in params.items())
    theta = {n: p.detach().clone() for n, p in trainer.trainable.items()}
    trainer.train_step([("sts", list(range(16)))])
    assert any(not torch.equal(theta[n], p) for n, p in trainer.trainable.items())

    b = trainer.data["train"]["sts"].batch(list(range(8)), trainer.pad)
    trainer.model.eval()  # no dropout: both forward passes comparable
    _, parts = trainer._task_objective("sts", b)
    anchored_model = copy.deepcopy(trainer.model)
    with torch.no_grad():
        for n, p in anchored_model.named_parameters():
            if n in trainer.anchor.params:
                p.copy_(trainer.anchor.params[n])
        f = lambda m: m("sts", m.embeddings(b["input_ids"]), b["attention_mask"])  # noqa: E731
        by_hand = ((f(trainer.model) - f(anchored_model)) ** 2).mean().item()
    assert by_hand > 0 and parts["bregman_sts"] == pytest.approx(by_hand, rel=1e-5)


def test_proximal_anchor_momentum():
    p = torch.nn.Parameter(torch.tensor([1.0]))
    anchor = ProximalAnchor({"p": p}, beta=0.9)
    with torch.no_grad():
        p.fill_(2.0)
    anchor.update({"p": p})  # 0.9 * 1 + 0.1 * 2
    assert anchor.params["p"].item() == pytest.approx(1.1)


# ---------------------------------------------------------------------------------------------- sampling
def test_sequential_parallel_and_round_robin_batches():
    sizes = {"sst": 10, "para": 25, "sts": 4}
    seq = epoch_schedule(sizes, 4, "sequential", random.Random(0))
    assert [s[0][0] for s in seq] == ["sst"] * 3 + ["para"] * 7 + ["sts"]
    assert all(len(s) == 1 for s in seq)
    assert sorted(i for s in seq if s[0][0] == "para" for i in s[0][1]) == list(range(25))
    par = epoch_schedule(sizes, 4, "parallel", random.Random(0))
    assert len(par) == 1 and [t for t, _ in par[0]] == ["sst", "para", "sts"]  # breaks when sts runs out
    rr = epoch_schedule(sizes, 4, "round-robin", random.Random(0))
    assert len(rr) == 7 and all([t for t, _ in s] == ["sst", "para", "sts"] for s in rr)
    assert sorted(i for s in rr for t, b in s if t == "para" for i in b) == list(range(25))  # largest used up once
    sts_passes = [b for s in rr for t, b in s if t == "sts"]
    assert len(sts_passes) == 7 and all(len(b) == 4 for b in sts_passes)  # resampled: a new pass per batch
    with pytest.raises(ValueError, match="task sampling"):
        epoch_schedule(sizes, 4, "random", random.Random(0))


# ---------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("options,message", [
    ({"loss": "gls", "task_sampling": "sequential"}, "trains one task per step"),
    ({"loss": "gls", "tasks": ["sst"]}, "one task is trained"),
    ({"loss": "fls", "focus": []}, "needs --focus"),
    ({"pcgrad": True, "mode": "lora-per-task"}, "share none"),
    ({"pcgrad": True, "task_sampling": "sequential", "mode": "full"}, "several tasks in the same step"),
    ({"tasks": []}, "--tasks is empty"),
    ({"bregman_beta": 1.0}, "--bregman-beta"),
    ({"smart_weight": -1.0}, "--smart-weight must be >= 0"),
    ({"task_train_limit": ["para:300"]}, "not TASK=N"),
    ({"task_train_limit": ["para=-3"]}, "not TASK=N"),
    ({"task_train_limit": ["sts=10"], "tasks": ["sst", "para"]}, "'sts' is not a trained task"),
])
def test_bad_settings_are_clear_errors(options, message):
    with pytest.raises(MtpfError, match=message):
        MultitaskConfig(**options).validate()


def test_task_train_limit_caps_each_task_and_round_robin_then_differs_from_parallel(tiny_bert, splits):
    cfg = MultitaskConfig(backbone=str(tiny_bert), train_limit=64, task_train_limit=["para=16", "sts=0"])
    assert cfg.train_limits() == {"sst": 64, "para": 16, "sts": 0}
    trainer = MultitaskTrainer(cfg, splits, log=lambda m: None)
    sizes = {t: d.n for t, d in trainer.data["train"].items()}
    assert sizes == {"sst": 64, "para": 16, "sts": len(splits["sts"]["train"])}
    assert len(epoch_schedule(sizes, 16, "parallel", random.Random(0))) == 1
    assert len(epoch_schedule(sizes, 16, "round-robin", random.Random(0))) == -(-len(splits["sts"]["train"]) // 16)


def test_gls_and_pcgrad_change_the_update(tiny_bert, splits):
    def update(**options):
        cfg = MultitaskConfig(backbone=str(tiny_bert), mode="shared-lora", dropout=0.0, lora_dropout=0.0, **options)
        trainer = MultitaskTrainer(cfg, splits, log=lambda m: None)
        before = {n: p.detach().clone() for n, p in trainer.trainable.items()}
        trainer.train_step([(t, list(range(16))) for t in ("sst", "para", "sts")])
        return torch.cat([(p.detach() - before[n]).flatten() for n, p in trainer.trainable.items()])

    plain = update()
    assert not torch.allclose(plain, update(loss="gls"), atol=1e-8)
    assert torch.allclose(plain, update(), atol=0)  # deterministic


def test_total_score_is_the_reports():
    m = {"sst": {"accuracy": 0.5}, "para": {"accuracy": 0.8}, "sts": {"pearson": 0.6}}
    assert total_score(m) == pytest.approx((0.5 + 0.8 + 0.8) / 3)


# ---------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def trained(tiny_bert, splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("mt") / "run"
    cfg = MultitaskConfig(backbone=str(tiny_bert), epochs=6, batch_size=16, lr=5e-3, head_lr=2e-2, lora_r=4,
                          lora_alpha=8, max_length=32, smart_weight=0.5, bregman_weight=0.5, optimizer="adabelief",
                          clip_grad_norm=1.0, loss="fls", focus=["para"])
    metrics = adapt_multitask(cfg, splits, out, log=lambda m: None)
    return out, metrics


def test_tiny_run_learns_and_writes_one_adapter_per_task(trained):
    out, metrics = trained
    assert metrics["test"]["sst"]["accuracy"] > 0.5 and metrics["test"]["para"]["accuracy"] > 0.5
    assert metrics["test"]["sts"]["pearson"] > 0.2 and 1 <= metrics["best_epoch"] <= 6
    for task, kind in (("sst", "tc"), ("para", "pair-tc"), ("sts", "sts")):
        meta = json.loads((out / "adapters" / task / "task.json").read_text())
        assert meta["task"] == kind and (out / "adapters" / task / "adapter_model.safetensors").exists()
    assert json.loads((out / "config.json").read_text())["backbone"]


def test_export_and_runtime_parity_for_pair_tasks(trained, tiny_bert, splits, tmp_path):
    from mtpf_deploy.runtime import SystemModel

    out, _ = trained
    bundle = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["export", "--run", str(out), "--adapters", "sst,para,sts", "--quantize", "none",
                                       "--out", str(bundle)])
    assert result.exit_code == 0, result.output
    system = SystemModel.load(bundle)
    cfg = MultitaskConfig(**{k: v for k, v in json.loads((out / "config.json").read_text()).items() if k != "command"})
    trainer = MultitaskTrainer(cfg, splits, log=lambda m: None)
    for task in ("sst", "para", "sts"):  # the trained weights, read back as PEFT adapters
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(trainer.model.encoder, load_file(str(out / "adapters" / task / "adapter_model.safetensors")),
                                  adapter_name=task)
    heads = {"sst": out / "adapters" / "sst", "para": out / "adapters" / "para"}
    for task, folder in heads.items():
        h = load_file(str(folder / "head.safetensors"))
        if task == "sst":
            trainer.model.heads["sst"].weight.data, trainer.model.heads["sst"].bias.data = h["weight"], h["bias"]
        else:  # rows [-w/2, w/2] -> w
            trainer.model.heads["para"].weight.data, trainer.model.heads["para"].bias.data = h["weight"][1:] * 2, h["bias"][1:] * 2
    pairs = [(p.text_a, p.text_b) for p in splits["sts"]["test"][:12]]
    scores = system.similarity(pairs, "sts")
    reference = trainer.predict("sts", trainer.data["test"]["sts"])[:12]
    np.testing.assert_allclose(scores, reference, atol=1e-4)
    para = system.classify_pairs([(p.text_a, p.text_b) for p in splits["para"]["test"][:12]], "para")
    logits = trainer.predict("para", trainer.data["test"]["para"])[:12]
    np.testing.assert_allclose([c.probabilities["paraphrase"] for c in para], 1 / (1 + np.exp(-logits)), atol=1e-4)
    sst = system.classify([x.text for x in splits["sst"]["test"][:12]], "sst")
    probs = torch.softmax(torch.tensor(trainer.predict("sst", trainer.data["test"]["sst"])[:12]), -1).numpy()
    np.testing.assert_allclose([[c.probabilities[l] for l in trainer.sst_labels] for c in sst], probs, atol=1e-4)
    one = system.similarity(pairs[0], "sts")
    assert isinstance(one, float) and one == pytest.approx(scores[0], abs=1e-5)
    # the wrong kind of adapter for a call is a clear error
    with pytest.raises(InputError, match="'sts' is a sts adapter; this call needs a tc adapter"):
        system.classify("pizza", "sts")
    with pytest.raises(InputError, match="is a tc adapter; this call needs a sts adapter"):
        system.similarity(pairs, "sst")
    with pytest.raises(InputError, match="pair 0 is not a"):
        system.similarity(["just one text"], "sts")


def test_predict_reads_jsonl_pairs(trained, tmp_path):
    out, _ = trained
    bundle = tmp_path / "bundle"
    assert CliRunner().invoke(main, ["export", "--run", str(out), "--adapters", "para,sts", "--quantize", "none",
                                     "--out", str(bundle)]).exit_code == 0
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"text_a": "pizza and pasta", "text_b": "bread and soup"}\n{"text_a": "goal", "text_b": "chip"}\n')
    result = CliRunner().invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "sts", "--input", str(pairs)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(rows) == 2 and all(isinstance(r["score"], float) for r in rows)
    result = CliRunner().invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "para", "--input", str(pairs)])
    assert result.exit_code == 0 and json.loads(result.stdout.splitlines()[0])["label"] in ("paraphrase", "not_paraphrase")
    pairs.write_text('{"text_a": "x"}\n')
    result = CliRunner().invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "sts", "--input", str(pairs)])
    assert result.exit_code != 0 and f"{pairs}:1: expected an object with string fields text_a and text_b" in result.output
    result = CliRunner().invoke(main, ["predict", "--bundle", str(bundle), "--adapter", "sts", "some text"])
    assert result.exit_code != 0 and "takes text pairs" in result.output


def test_full_mode_exports_its_backbone(tiny_bert, splits, tmp_path):
    out = tmp_path / "full"
    cfg = MultitaskConfig(backbone=str(tiny_bert), mode="full", epochs=1, batch_size=32, tasks=["sst", "sts"],
                          task_sampling="parallel", pcgrad=True, loss="gls")
    adapt_multitask(cfg, {t: splits[t] for t in cfg.tasks}, out, log=lambda m: None)
    assert (out / "backbone" / "model.safetensors").exists()
    result = CliRunner().invoke(main, ["export", "--run", str(out), "--adapters", "sst,sts", "--quantize", "none",
                                       "--out", str(tmp_path / "bundle")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert manifest["backbone"]["source"].endswith("backbone") and set(manifest["adapters"]) == {"sst", "sts"}
