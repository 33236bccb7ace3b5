"""On-device side: numpy + onnxruntime + tokenizers, never torch.

    from mtpf_deploy.runtime import SystemModel
    system = SystemModel.load("bundle/", threads=2)      # the "system": one backbone for every app
    ner = system.load_adapter("ner")                     # an "app" adapter (name in the bundle, or a path)
    system.entities(["Ada Lovelace lived in London."], ner)
"""
from .results import Classification, Entity
from .system import Adapter, SystemModel

__all__ = ["SystemModel", "Adapter", "Entity", "Classification"]
