"""What the runtime needs of a backend. Each engine loads the bundle's backbone for its backend, turns
an adapter's LoRA tensors into what its calls take (``prepare``), and runs a padded batch (``run``)."""
from __future__ import annotations

import numpy as np

from ...errors import AdapterError


class Engine:
    """What the runtime needs of a backend."""

    backend: str
    no_adapter: object  # ``prepare({})``
    # True when a row's numbers depend on the other rows of its batch (ONNX Runtime's int8 graph quantizes
    # activations dynamically, one scale per tensor over the whole batch): the runtime then runs each row
    # alone, at its own length, so a text's result never depends on its neighbours or on padding
    rows_share_quantization: bool = False
    # the most rows one run takes (None: any); 1 also makes the runtime run rows alone, at their own length
    max_batch: int | None = None

    def prepare(self, lora: dict[str, np.ndarray], where: str) -> object:
        """An adapter's LoRA tensors (slot input name -> array) as this engine's per-call input."""
        raise NotImplementedError

    def merge(self, lora: dict[str, np.ndarray], where: str) -> object:
        """``prepare``, but with the LoRA folded into the weights (a session of its own): calls as fast as a
        merged per-task model, at the cost of a slower load and a copy of the weights the adapter changes."""
        raise AdapterError(f"{where}: the {self.backend} backend cannot merge adapters into the weights")

    def run(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        """Hidden states [B, S, H] of a padded batch with a prepared adapter active."""
        raise NotImplementedError

    def run_rows(self, ids: np.ndarray, mask: np.ndarray, prepared: list) -> np.ndarray:
        """Hidden states [B, S, H] of a padded batch whose row i uses ``prepared[i]``. Here: the rows of each
        adapter run together, one run per adapter (an engine whose graph takes a LoRA per row overrides this)."""
        groups: dict[int, list[int]] = {}
        for i, p in enumerate(prepared):
            groups.setdefault(id(p), []).append(i)
        out: np.ndarray | None = None
        for rows in groups.values():
            hidden = self.run(ids[rows], mask[rows], prepared[rows[0]])
            if out is None:
                out = np.zeros((len(prepared), *hidden.shape[1:]), dtype=hidden.dtype)
            out[rows] = hidden
        assert out is not None
        return out

    def set_bank(self, prepared: list) -> None:
        """The prepared adapters now loaded (called when that changes): an engine whose mixed batches take
        a pool of adapters builds it here; by default nothing."""

    def run_and_release(self, ids: np.ndarray, mask: np.ndarray, prepared: object) -> np.ndarray:
        """``run``, then give the activation memory it took back (for a one-off large batch)."""
        return self.run(ids, mask, prepared)
