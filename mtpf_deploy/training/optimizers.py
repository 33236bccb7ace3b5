"""AdaBelief (Zhuang et al., 2020): Adam whose second moment tracks (g - m)^2, the "belief" in the
gradient, with decoupled weight decay and bias correction (second source, Sec. 4.1)."""
from __future__ import annotations

import torch


class AdaBelief(torch.optim.Optimizer):
    """m_t = b1 m + (1-b1) g;  s_t = b2 s + (1-b2) (g - m_t)^2 + eps;
    p -= lr * (m_t / (1-b1^t)) / (sqrt(s_t / (1-b2^t)) + eps);  decoupled decay p -= lr * wd * p."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-16,
                 weight_decay: float = 0.0):
        if lr <= 0 or eps <= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1:
            raise ValueError(f"invalid AdaBelief hyper-parameters lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_var"] = torch.zeros_like(p)
                state["step"] += 1
                t = int(state["step"].item())
                m, s = state["exp_avg"], state["exp_avg_var"]
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                m.mul_(b1).add_(g, alpha=1 - b1)
                diff = g - m
                s.mul_(b2).addcmul_(diff, diff, value=1 - b2).add_(group["eps"])
                denom = (s / (1 - b2**t)).sqrt_().add_(group["eps"])
                p.addcdiv_(m, denom, value=-group["lr"] / (1 - b1**t))
        return loss


def make_optimizer(name: str, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """``adamw`` or ``adabelief``."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adabelief":
        return AdaBelief(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be adamw or adabelief, not {name!r}")
