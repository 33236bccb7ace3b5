"""Run a few pretrain steps on this torchrun rank and record a checksum of its weights."""
import json
import os
import sys
from pathlib import Path

from mtpf_deploy.training.pretrain.config import PretrainConfig
from mtpf_deploy.training.pretrain.trainer import Pretrainer


def checksum(model):
    return [float(p.detach().double().sum()) for p in model.parameters()]


cfg = PretrainConfig(**json.loads(Path(sys.argv[1]).read_text()))
trainer = Pretrainer(cfg, Path(sys.argv[2]), log=lambda m: None)
initial = checksum(trainer.model)
trainer.run()
rank = int(os.environ["RANK"])
out = Path(sys.argv[1]).parent / f"rank{rank}.json"
out.write_text(json.dumps({"step": trainer.step, "weights": checksum(trainer.model), "initial": initial,
                           "world": int(os.environ["WORLD_SIZE"])}))
