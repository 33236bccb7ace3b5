"""SMART (Jiang et al., 2020) as the second source uses it: smoothness-inducing adversarial
regularisation on the input embeddings and the Bregman proximal point term.

    F(θ) = L(θ) + λ_s R_s(θ) + μ D_Breg(θ, θ̃_t)
    R_s   = l_s(f(x + δ; θ), f(x; θ)),  δ: a few normalised ascent steps on l_s inside ‖δ‖_∞ ≤ ε
    D_Breg = l_s(f(x; θ), f(x; θ̃_t)),  θ̃_t = (1 - β) θ_{t-1} + β θ̃_{t-1}

``l_s`` is the symmetric KL divergence for classification outputs (softmax logits, or one binary logit)
and the squared error for regression outputs."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

OUTPUT_KINDS = ("multiclass", "binary", "regression")


def symmetric_kl(p_logits: torch.Tensor, q_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean over the batch of KL(P‖Q) + KL(Q‖P); ``binary``: one logit per example (Bernoulli)."""
    if kind == "binary":
        p_logits = torch.stack([torch.zeros_like(p_logits), p_logits], -1)
        q_logits = torch.stack([torch.zeros_like(q_logits), q_logits], -1)
    log_p, log_q = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)
    return ((log_p.exp() - log_q.exp()) * (log_p - log_q)).sum(-1).mean()


def smoothness_loss(p: torch.Tensor, q: torch.Tensor, kind: str) -> torch.Tensor:
    """``l_s``: symmetric KL for classification, mean squared error for regression."""
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"output kind must be one of {OUTPUT_KINDS}, not {kind!r}")
    return ((p - q) ** 2).mean() if kind == "regression" else symmetric_kl(p, q, kind)


def adversarial_smoothness(f: Callable[[torch.Tensor], torch.Tensor], embeds: torch.Tensor, clean: torch.Tensor,
                           kind: str, epsilon: float, step_size: float, steps: int, noise: float = 0.0,
                           delta: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """R_s: start from ``delta`` (default: Gaussian noise of std ``noise``), take ``steps`` ascent steps
    on l_s(f(embeds + δ), clean) normalised by the max-norm of the gradient per position, keep
    ‖δ‖_∞ ≤ ε; return l_s(f(embeds + δ), clean) with the graph to the model (and to ``clean``)."""
    if delta is None:
        delta = torch.randn(embeds.shape, generator=generator, device=embeds.device, dtype=embeds.dtype) * noise
    delta = delta.detach()
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = smoothness_loss(f(embeds.detach() + delta), clean.detach(), kind)
        (grad,) = torch.autograd.grad(loss, delta)
        norm = grad.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12)
        delta = (delta + step_size * grad / norm).clamp(-epsilon, epsilon).detach()
    return smoothness_loss(f(embeds + delta), clean, kind)


class ProximalAnchor:
    """θ̃: a momentum copy of the trainable parameters, for the Bregman proximal term."""

    def __init__(self, named: dict[str, torch.nn.Parameter], beta: float):
        self.beta = beta
        self.params = {n: p.detach().clone() for n, p in named.items()}

    @contextmanager
    def swapped_in(self, named: dict[str, torch.nn.Parameter]) -> Iterator[None]:
        """Hold θ̃ in the live parameters for a forward pass, then restore θ. Copies in place, so the
        parameter objects (and the optimizer's references) stay; use it before building this step's
        graph (an in-place change to a tensor a graph saved would break its backward)."""
        with torch.no_grad():
            saved = {n: p.detach().clone() for n, p in named.items()}
            try:
                for n, p in named.items():
                    p.copy_(self.params[n])
                yield
            finally:
                for n, p in named.items():
                    p.copy_(saved[n])

    @torch.no_grad()
    def update(self, named: dict[str, torch.nn.Parameter]) -> None:
        """θ̃_t = (1 - β) θ_{t-1} + β θ̃_{t-1}, with θ_{t-1} the parameters before this step's update."""
        for n, p in named.items():
            self.params[n].mul_(self.beta).add_(p.detach(), alpha=1 - self.beta)
