"""sentence-transformers folders exported faithfully (issue 23): pooling, normalisation and max length read
from the folder (sentence-transformers 6 and the older layout), carried into the bundle, and
``SystemModel.embed`` equal to ``SentenceTransformer.encode``; what cannot be carried is refused by name."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

try:  # sentence-transformers 6 (constraints.txt); older ones name the package sentence_transformers.models
    from sentence_transformers.sentence_transformer import modules as models
except ImportError:  # pragma: no cover
    from sentence_transformers import models

from mtpf_deploy.errors import MtpfError
from mtpf_deploy.export.sentence_transformers import read_sentence_embedding
from mtpf_deploy.export.write_bundle import export_bundle
from mtpf_deploy.formats.bundle import POOLING_MODES
from mtpf_deploy.runtime import SystemModel

MAX_SEQ = 12
TEXTS = ["alice smith went to paris", "the big match", "", " ".join(["oslo paris london"] * 8)]  # the last: > MAX_SEQ


def st_folder(tiny_bert, out, pooling, normalize):
    transformer = models.Transformer(str(tiny_bert), max_seq_length=MAX_SEQ)
    modules = [transformer, models.Pooling(transformer.get_embedding_dimension(), pooling)]
    model = SentenceTransformer(modules=modules + ([models.Normalize()] if normalize else []), device="cpu")
    model.save(str(out))
    return model


def quiet(message):
    pass


@pytest.mark.parametrize("pooling", POOLING_MODES)
def test_embed_matches_sentence_transformers_encode(tiny_bert, tmp_path, pooling):
    normalize = pooling in ("cls", "max")
    model = st_folder(tiny_bert, tmp_path / "st", pooling, normalize)
    manifest = export_bundle(str(tmp_path / "st"), {}, tmp_path / "bundle", precision="fp32", log=quiet)
    assert manifest["backbone"]["sentence_embedding"] == {"pooling": pooling, "normalize": normalize,
                                                          "max_length": MAX_SEQ, "source": "modules.json"}
    assert manifest["backbone"]["max_length"] == 128  # the token window of the other tasks is untouched
    system = SystemModel.load(tmp_path / "bundle")
    expected = model.encode(TEXTS, convert_to_numpy=True)
    got = system.embed(TEXTS)
    assert np.abs(got - expected).max() <= 1e-5
    if not normalize:
        assert abs(np.linalg.norm(got[0]) - 1) > 1e-3
    long_text = system.tokenizer.encode(TEXTS[-1], add_special_tokens=False).ids
    assert len(long_text) > MAX_SEQ  # truncation is part of what is compared


def test_the_older_layout_reads_the_same(tiny_bert, tmp_path):
    """sentence-transformers < 6: module types under sentence_transformers.models, pooling_mode_* flags,
    max_seq_length in sentence_bert_config.json (the layout of the default backbone's wheel)."""
    st_folder(tiny_bert, tmp_path / "st", "cls", True)
    folder = tmp_path / "st"
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (folder / "1_Pooling/config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 9, "do_lower_case": False}))
    assert read_sentence_embedding(folder) == {"pooling": "cls", "normalize": True, "max_length": 9,
                                               "source": "modules.json"}
    assert read_sentence_embedding(tiny_bert) is None  # a plain Hugging Face folder


def test_what_cannot_be_carried_is_refused_by_name(tiny_bert, tmp_path):
    st_folder(tiny_bert, tmp_path / "st", "mean", False)
    folder = tmp_path / "st"
    modules = json.loads((folder / "modules.json").read_text())
    dense = folder.parent / "dense"
    shutil.copytree(folder, dense)
    (dense / "modules.json").write_text(json.dumps(modules + [
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    with pytest.raises(MtpfError, match=r"sentence_transformers.models.Dense \(module 2\)"):
        export_bundle(str(dense), {}, tmp_path / "b1", precision="fp32", log=quiet)
    assert not (tmp_path / "b1").exists()
    pooling = json.loads((folder / "1_Pooling/config.json").read_text())
    (folder / "1_Pooling/config.json").write_text(json.dumps(dict(pooling, pooling_mode=["mean", "max"])))
    with pytest.raises(MtpfError, match=r"concatenates pooling modes \['mean', 'max'\]"):
        read_sentence_embedding(folder)
    (folder / "1_Pooling/config.json").write_text(json.dumps(dict(pooling, pooling_mode="median")))
    with pytest.raises(MtpfError, match="pooling mode 'median' is not one of"):
        read_sentence_embedding(folder)


def test_default_backbone_records_what_its_folder_says():
    """The packaged all-MiniLM-L6-v2 is a sentence-transformers folder: mean, normalised, 256 tokens."""
    from mtpf_deploy.backbones import default_backbone_dir

    assert read_sentence_embedding(default_backbone_dir()) == {"pooling": "mean", "normalize": True,
                                                               "max_length": 256, "source": "modules.json"}
