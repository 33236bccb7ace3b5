"""The ExecuTorch export backend: one XNNPACK ``.pte`` program + one ``.ptd`` weights file
(``program.py``), LoRA inputs of rank ``--et-max-rank``. Its manifest part is the ``executorch`` section."""
from __future__ import annotations

from ....formats.hashing import sha256_file
from .. import ExportJob


def write(job: ExportJob) -> dict:
    from .program import export_executorch  # torch + executorch

    cfg = job.cfg
    job.log(f"exporting {job.backbone_dir} to ExecuTorch (XNNPACK, {cfg.et_precision}, LoRA inputs of rank "
            f"{cfg.et_max_rank}, at most {cfg.et_max_batch} row(s) per call) ...")
    pte, ptd, _ = export_executorch(job.backbone_dir, job.out, cfg.et_max_rank, job.max_length, cfg.et_precision,
                                    max_batch=cfg.et_max_batch)
    job.log(f"{pte.name}: {pte.stat().st_size / 1e6:.2f} MB, {ptd.name}: {ptd.stat().st_size / 1e6:.1f} MB")
    return {"executorch": {"program": pte.name, "program_sha256": sha256_file(pte), "data": ptd.name,
                           "data_sha256": sha256_file(ptd), "max_rank": cfg.et_max_rank, "max_batch": cfg.et_max_batch,
                           "delegate": "xnnpack",
                           "precision": cfg.et_precision}}
