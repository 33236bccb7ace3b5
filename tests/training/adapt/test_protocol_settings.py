"""`adapt` protocol knobs reach the training loop (issue 8: schedule and clipping are selectable)."""
from __future__ import annotations

import random

import pytest
import torch

from mtpf_deploy.errors import MtpfError
from mtpf_deploy.training.adapt import recipe
from mtpf_deploy.training.adapt.config import NerAdaptConfig


@pytest.mark.parametrize("options,decay,clip", [({}, False, 1.0),  # defaults: constant (chosen on dev)
                                                ({"schedule": "linear"}, True, 1.0),
                                                ({"schedule": "constant", "clip_grad_norm": 0.0}, False, None),
                                                ({"schedule": "linear", "clip_grad_norm": 5.0}, True, 5.0)])
def test_schedule_and_clipping_reach_the_loop(monkeypatch, options, decay, clip):
    calls = []
    monkeypatch.setattr(recipe, "train_epochs", lambda *a, **kw: calls.append(kw) or [])
    head, lora = torch.nn.Linear(2, 2), [torch.nn.Parameter(torch.zeros(1))]
    recipe.warmup_then_joint(head, lora, 4, (None, None), (None, None), NerAdaptConfig(**options), 1, 1, random.Random(0))
    warm, joint = calls
    assert warm["lr"] == NerAdaptConfig(**options).head_lr and joint["lr"] == NerAdaptConfig(**options).lora_lr
    assert warm["decay"] is False and warm["clip_grad_norm"] == clip
    assert joint["decay"] is decay and joint["clip_grad_norm"] == clip


def test_bad_clipping_is_a_clear_error():
    with pytest.raises(MtpfError, match="--clip-grad-norm must be >= 0"):
        NerAdaptConfig(clip_grad_norm=-1).validate()
    with pytest.raises(MtpfError, match="--schedule must be one of constant, linear"):
        NerAdaptConfig(schedule="cosine").validate()
