"""``pretrain``: gradient routing per strategy, resume, DDP under torchrun, outputs that feed
``adapt --init-adapter`` and ``export --run``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.errors import MtpfError
from mtpf_deploy.training.pretrain.config import PretrainConfig
from mtpf_deploy.training.pretrain.trainer import Pretrainer
from tests.conftest import REPO
from tests.training.pretrain.conftest import QUIET
from tests.training.pretrain.conftest import make_config as _cfg


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _changed(before, model, pick) -> list[bool]:
    return [not torch.equal(before[n], p) for n, p in model.named_parameters() if pick(n)]


def _is_lora(family):
    return lambda n: "lora_" in n and f".{family}." in n


def _is_backbone(n):
    return "lora_" not in n and not n.startswith("ner_head")


@pytest.mark.parametrize("strategy", ["mtpf-tpl", "pf-lora"])
def test_gradient_routing_with_task_primary_loras(tiny_bert, pf_data, tmp_path, strategy):
    trainer = Pretrainer(_cfg(tiny_bert, pf_data, strategy=strategy, task_sampling="alternate"), tmp_path, QUIET)
    model = trainer.model
    before = _snapshot(model)
    trainer.train_step(["ner"])  # NER-only step
    assert all(_changed(before, model, _is_lora("ner"))), "the NER LoRA must learn from the NER loss"
    assert not any(_changed(before, model, _is_lora("tc"))), "the TC LoRA must not move on an NER step"
    backbone_moved = any(_changed(before, model, _is_backbone))
    assert backbone_moved == (strategy == "mtpf-tpl")  # PF-L leaves the backbone untouched
    before = _snapshot(model)
    trainer.train_step(["tc"])  # TC-only step
    assert all(_changed(before, model, _is_lora("tc")))
    assert not any(_changed(before, model, _is_lora("ner")))
    assert not any(_changed(before, model, lambda n: n.startswith("ner_head")))
    assert any(_changed(before, model, _is_backbone)) == (strategy == "mtpf-tpl")


@pytest.mark.parametrize("strategy,moves_head", [("mtpf", True), ("pf-tc", False), ("pf-ner", True)])
def test_full_finetuning_strategies_update_the_backbone(tiny_bert, pf_data, tmp_path, strategy, moves_head):
    trainer = Pretrainer(_cfg(tiny_bert, pf_data, strategy=strategy), tmp_path, QUIET)
    assert not any("lora_" in n for n, _ in trainer.model.named_parameters())
    before = _snapshot(trainer.model)
    trainer.train_step(trainer.tasks)
    assert any(_changed(before, trainer.model, _is_backbone))
    assert (trainer.model.ner_head is not None) == moves_head
    if moves_head:
        assert all(_changed(before, trainer.model, lambda n: n.startswith("ner_head"))), "the NER head must learn"


def test_combinations_pcgrad_gradcache_and_adabelief_run(tiny_bert, pf_data, tmp_path):
    for i, kw in enumerate([dict(loss="gls", pcgrad=True, optimizer="adabelief"),
                            dict(loss="fls", focus=["tc"], tc_chunk_size=4),
                            dict(strategy="mtpf", pcgrad=True, tc_chunk_size=4)]):
        trainer = Pretrainer(_cfg(tiny_bert, pf_data, **kw), tmp_path / str(i), QUIET)
        before = _snapshot(trainer.model)
        stats = trainer.train_step(trainer.tasks)
        assert all(torch.isfinite(torch.tensor(v)) for v in stats.values()), stats
        ner, tc = stats["loss_ner"], stats["loss_tc"]
        combined = {"sum": ner + tc, "gls": (ner * tc) ** 0.5, "fls": (ner * tc) ** 0.5 * tc}[trainer.cfg.loss]
        assert stats["loss"] == pytest.approx(combined, rel=1e-5), (kw, stats)  # the combination that was asked for
        assert any(_changed(before, trainer.model, _is_backbone)), kw  # and the step updated the shared backbone


def test_bad_settings_are_clear_errors(tiny_bert, pf_data, tmp_path):
    with pytest.raises(MtpfError, match="--pcgrad needs two tasks"):
        Pretrainer(_cfg(tiny_bert, pf_data, pcgrad=True, task_sampling="alternate"), tmp_path, QUIET)
    with pytest.raises(MtpfError, match="needs --ner-corpus"):
        Pretrainer(_cfg(tiny_bert, pf_data, ner_corpus=None), tmp_path, QUIET)
    with pytest.raises(MtpfError, match="--loss fls needs --focus"):
        Pretrainer(_cfg(tiny_bert, pf_data, loss="fls"), tmp_path, QUIET)
    # issue 8: with one task per step GLS/FLS would silently reduce to that task's loss
    for sampling in ("alternate", "proportional"):
        with pytest.raises(MtpfError, match=f"--loss fls combines the task losses of one step, but --task-sampling "
                                            f"{sampling} trains one task per step"):
            Pretrainer(_cfg(tiny_bert, pf_data, loss="fls", focus=["tc"], task_sampling=sampling), tmp_path, QUIET)
    with pytest.raises(MtpfError, match="--loss gls combines .* but --strategy pf-tc trains one task"):
        Pretrainer(_cfg(tiny_bert, pf_data, loss="gls", strategy="pf-tc"), tmp_path, QUIET)
    with pytest.raises(MtpfError, match="unknown setting"):
        PretrainConfig.from_dict({"stepz": 3})


def test_resume_gives_the_same_weights(tiny_bert, pf_data, tmp_path):
    kw = dict(steps=20, checkpoint_every=5, loss="gls", tc_chunk_size=8)
    straight = Pretrainer(_cfg(tiny_bert, pf_data, **kw), tmp_path / "a", QUIET)
    straight.run()
    interrupted = Pretrainer(_cfg(tiny_bert, pf_data, **kw), tmp_path / "b", QUIET)
    interrupted.run(stop_after=10)  # the process "dies" after step 10 (checkpoint at 10)
    assert not (tmp_path / "b/backbone").exists()
    resumed = Pretrainer(_cfg(tiny_bert, pf_data, **kw), tmp_path / "b", QUIET)
    resumed.run(resume=True)
    assert resumed.step == 20
    for (n, p), (_, q) in zip(straight.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.allclose(p, q, atol=1e-6), n
    log = [json.loads(l) for l in (tmp_path / "b/log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 21))
    assert {"loss", "loss_ner", "loss_tc", "lr", "examples_per_s"} <= set(log[0])
    with pytest.raises(MtpfError, match="settings differ"):
        Pretrainer(_cfg(tiny_bert, pf_data, **{**kw, "backbone_lr": 0.5}), tmp_path / "b", QUIET).run(resume=True)


def test_run_outputs_feed_adapt_and_export(tiny_bert, pf_data, ner_splits, tmp_path):
    run = tmp_path / "run"
    Pretrainer(_cfg(tiny_bert, pf_data, steps=3), run, QUIET).run()
    task = json.loads((run / "adapters/ner/task.json").read_text())
    assert task["task_primary"] and task["family"] == "ner" and task["layers"] == [0, 1]
    assert (run / "backbone/model.safetensors").exists() and (run / "backbone/tokenizer.json").exists()
    assert "[ner]" not in (run / "config.toml").read_text() and "strategy = \"mtpf-tpl\"" in (run / "config.toml").read_text()
    from mtpf_deploy.training.adapt.ner import NerAdaptConfig, adapt_ner

    messages = []
    adapt_ner(NerAdaptConfig(backbone=str(run / "backbone"), lora_r=4, lora_alpha=8, warmup_epochs=1, epochs=1,
                             init_adapter=str(run / "adapters/ner")), ner_splits, tmp_path / "app", log=messages.append)
    assert any("initialised 8 LoRA modules" in m for m in messages)  # 4 families x last 2 layers
    assert not any(m.startswith("warning") for m in messages)
    messages.clear()
    adapt_ner(NerAdaptConfig(backbone=str(tiny_bert), lora_r=4, lora_alpha=8, warmup_epochs=0, epochs=1,
                             init_adapter=str(run / "adapters/ner")), ner_splits, tmp_path / "app2", log=messages.append)
    assert any("was trained with backbone weights" in m for m in messages)  # the base, not the run's backbone
    res = CliRunner().invoke(main, ["export", "--run", str(run), "--adapters", "ner,tc", "--quantize", "none",
                                    "--out", str(tmp_path / "bundle")])
    assert res.exit_code == 0, res.output
    from mtpf_deploy.runtime import SystemModel

    system = SystemModel.load(tmp_path / "bundle")
    plain, with_tc = system.embed(["pizza and pasta"]), system.embed(["pizza and pasta"], "tc")
    assert abs(float((plain * with_tc).sum()) - 1) > 1e-6  # the task-primary TC LoRA changes the embedding


def test_config_toml_equals_flags(tiny_bert, pf_data, tmp_path):
    args = ["--backbone", str(tiny_bert), "--pairs", "", "--pair-file", pf_data["pairs"], "--ner-corpus",
            pf_data["ner"], "--steps", "2", "--tc-batch-size", "8", "--ner-batch-size", "4", "--lora-r", "4",
            "--lora-alpha", "8", "--max-length", "32"]
    res = CliRunner().invoke(main, ["pretrain", *args, "--out", str(tmp_path / "flags")])
    assert res.exit_code == 0, res.output
    saved = tmp_path / "flags/config.toml"
    res = CliRunner().invoke(main, ["pretrain", "--config", str(saved), "--out", str(tmp_path / "toml")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "flags/config.json").read_text()) == json.loads((tmp_path / "toml/config.json").read_text())
    a = (tmp_path / "flags/backbone/model.safetensors").read_bytes()
    assert a == (tmp_path / "toml/backbone/model.safetensors").read_bytes()
    res = CliRunner().invoke(main, ["pretrain", "--config", str(saved), "--steps", "1", "--out", str(tmp_path / "o")])
    assert json.loads((tmp_path / "o/config.json").read_text())["steps"] == 1  # an explicit flag wins


def test_ddp_two_processes_agree(tiny_bert, pf_data, tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    cfg = _cfg(tiny_bert, pf_data, steps=3, tc_chunk_size=4)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.__dict__))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29533", str(worker), str(tmp_path / "cfg.json"), str(tmp_path / "run")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    sums = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert sums[0]["step"] == sums[1]["step"] == 3
    assert sums[0]["weights"] == pytest.approx(sums[1]["weights"], rel=1e-6)
    assert sums[0]["weights"] != pytest.approx(sums[0]["initial"], rel=1e-6)  # they trained, identically


def test_ddp_equals_single_process_on_the_global_batch(pf_data, tmp_path):
    """With dropout off, 2 ranks (each half the batch, negatives gathered, grads averaged) reproduce one
    process training on the whole batch."""
    from tests.conftest import vocabulary
    from tests.tiny_bert import make_tiny_bert

    bert = make_tiny_bert(tmp_path / "nodrop", vocabulary(), seed=0, dropout=0.0)
    cfg = _cfg(bert, pf_data, strategy="pf-tc", steps=3, tc_batch_size=16, tc_chunk_size=4, ner_corpus=None)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.__dict__))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29534", str(Path(__file__).with_name("ddp_worker.py")),
                          str(tmp_path / "cfg.json"), str(tmp_path / "run")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    ddp = json.loads((tmp_path / "rank0.json").read_text())["weights"]
    single = Pretrainer(cfg, tmp_path / "single", QUIET)
    single.run()
    ref = [float(p.detach().double().sum()) for p in single.model.parameters()]
    assert ddp == pytest.approx(ref, rel=1e-4, abs=1e-5)
