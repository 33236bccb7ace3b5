"""int8 vs fp32 on the real default backbone, with adapters made by ``adapt`` on shared data.

Thresholds from the issue: mean token cosine >= 0.98, NER tag agreement >= 97 %, TC label
agreement >= 98 %. Also: texts longer than 512 tokens work on the real backbone."""
from __future__ import annotations

import numpy as np
import pytest

from mtpf_deploy.data.registry import load_split
from mtpf_deploy.data.tokenization import truncated_rows
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.runtime import SystemModel
from mtpf_deploy.training.adapt.ner import NerAdaptConfig, adapt_ner
from mtpf_deploy.training.adapt.tc import TcAdaptConfig, adapt_tc
from tests.conftest import need_shared_data


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = need_shared_data()
    tmp = tmp_path_factory.mktemp("real")
    quiet = lambda m: None  # noqa: E731
    conll = {"train": load_split("conll2003", "train", root)[:300]}
    adapt_ner(NerAdaptConfig(warmup_epochs=3, epochs=1, batch_size=32, lora_lr=2e-3, max_length=64), conll,
              tmp / "ner", log=quiet)
    banking = {"train": load_split("banking77", "train", root)}  # the whole train split, all 77 intents
    adapt_tc(TcAdaptConfig(n_experiments=0), banking, tmp / "tc", log=quiet)
    adapters = {"ner": tmp / "ner", "tc": tmp / "tc"}
    export_bundle("default", adapters, tmp / "fp32", quantize="none", log=quiet)
    export_bundle("default", adapters, tmp / "int8", quantize="int8", log=quiet)
    sample = {
        "ner": [" ".join(s.words) for s in load_split("conll2003", "test", root)[:150]],
        "tc": [x.text for x in load_split("banking77", "test", root)],
    }
    return SystemModel.load(tmp / "fp32"), SystemModel.load(tmp / "int8"), sample, adapters


def test_int8_is_smaller_and_close_to_fp32(real):
    fp32, int8, sample, _ = real
    size32 = (fp32.folder / "backbone.onnx").stat().st_size
    size8 = (int8.folder / "backbone.onnx").stat().st_size
    assert size8 < size32 / 3
    rows, _ = truncated_rows(fp32.tokenizer, sample["ner"], 128)
    cosines = []
    for adapter in (None, "ner", "tc"):
        for i in range(0, len(rows), 16):
            a, mask = fp32.run_ids(rows[i : i + 16], adapter)
            b, _ = int8.run_ids(rows[i : i + 16], adapter)
            m = mask.astype(bool)
            cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
            cosines.append(cos[m])
    mean_cos = float(np.concatenate(cosines).mean())
    print(f"int8 vs fp32: backbone {size8 / 1e6:.1f} MB vs {size32 / 1e6:.1f} MB, mean token cosine {mean_cos:.4f}")
    assert mean_cos >= 0.98


def test_int8_ner_tags_agree(real):
    fp32, int8, sample, _ = real
    from mtpf_deploy.data.tokenization import encode_text

    def tags(system):
        out = []
        for text, ents in zip(sample["ner"], system.entities(sample["ner"], "ner")):
            enc = encode_text(system.tokenizer, text)
            word_tags = ["O"] * len(enc.word_spans)
            for e in ents:
                for w, (s, t) in enumerate(enc.word_spans):
                    if s >= e.start and t <= e.end:
                        word_tags[w] = e.label
            out += word_tags
        return np.array(out)

    a, b = tags(fp32), tags(int8)
    agreement = float((a == b).mean())
    print(f"int8 vs fp32 NER word-tag agreement {agreement:.4f} over {len(a)} words ({(a != 'O').sum()} tagged)")
    assert (a != "O").sum() > 50  # the adapter really tags entities
    assert agreement >= 0.97


def test_int8_tc_labels_agree(real):
    fp32, int8, sample, _ = real
    a = [c.label for c in fp32.classify(sample["tc"], "tc")]
    b = [c.label for c in int8.classify(sample["tc"], "tc")]
    agreement = float(np.mean([x == y for x, y in zip(a, b)]))
    print(f"int8 vs fp32 TC label agreement {agreement:.4f} over {len(a)} texts ({len(set(a))} labels predicted)")
    assert len(set(a)) > 40
    assert agreement >= 0.98


def test_text_longer_than_512_tokens(real):
    _, int8, _, _ = real
    text = "Angela Merkel met Emmanuel Macron in Berlin on Monday . " * 60  # ~780 sub-words
    assert len(int8.tokenizer.encode(text, add_special_tokens=False).ids) > 512
    ents = int8.entities([text], "ner")[0]
    assert all(text[e.start : e.end] == e.text for e in ents) and max(e.end for e in ents) > len(text) * 0.9
    assert int8.classify([text], "tc")[0].truncated
    assert int8.embed([text]).shape == (1, 384)


def test_fp32_export_matches_pytorch_peft_on_the_real_backbone(real):
    import torch
    from peft import PeftModel

    from mtpf_deploy.training.encoder import load_encoder

    fp32, _, sample, adapters = real
    rows, _ = truncated_rows(fp32.tokenizer, sample["ner"][:16], 128)
    for name in (None, "ner"):
        encoder = load_encoder("default").eval()
        if name:
            encoder = PeftModel.from_pretrained(encoder, str(adapters[name])).eval()
        got, mask = fp32.run_ids(rows, name)
        with torch.no_grad():
            ref = encoder(input_ids=torch.from_numpy(np.where(mask, _pad(rows), 0)),
                          attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
        diff = float(np.abs(ref - got)[mask.astype(bool)].max())
        print(f"fp32 ONNX vs PyTorch+PEFT on all-MiniLM-L6-v2 ({name or 'no adapter'}): max abs diff {diff:.2e}")
        assert diff <= 1e-4


def _pad(rows):
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
