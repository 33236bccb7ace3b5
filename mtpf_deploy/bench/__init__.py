"""``mtpf-deploy bench``: the bundle next to what a user would ship instead (latency, end-to-end
calls, adapters, memory, throughput, the int8 GEMM ceiling). ``run.py`` measures, ``report.py``
writes JSON + markdown + plots. Variants that need torch (fp32 export, merged per-task int8 model,
PyTorch eager + PEFT) come from ``baselines.py`` and are skipped, with the reason, without it."""
