"""Teachers for the NER distillation: k-means over teacher embeddings, spaCy; the CLI."""
from __future__ import annotations


def test_kmeans_pseudo_labels_are_deterministic(tiny_bert):
    from mtpf_deploy.training.pretrain.pseudo_label import pseudo_label_kmeans

    sentences = ["alice smith went to paris", "bob met carol in rome", "the big team saw a goal",
                 "pizza and pasta with soup", "a laptop and a phone"] * 4
    first = pseudo_label_kmeans(str(tiny_bert), sentences, k=6, seed=0)
    second = pseudo_label_kmeans(str(tiny_bert), sentences, k=6, seed=0)
    assert first == second
    assert len(first) == 20 and first[0].words == ("alice", "smith", "went", "to", "paris")
    labels = {t for s in first for t in s.tags}
    assert 2 < len(labels) <= 6 and all(t.startswith("C") for t in labels)
    # identical words in identical contexts share a cluster
    assert first[0].tags == first[5].tags


def test_spacy_teachers(tmp_path):
    from mtpf_deploy.data.pseudo_corpus import read_pseudo_corpus, write_pseudo_corpus
    from mtpf_deploy.training.pretrain.pseudo_label import pseudo_label_spacy_kmeans, pseudo_label_spacy_ner

    sentences = ["Angela Merkel visited Paris on Monday.", "Apple sold 3 million iPhones in China.",
                 "The weather was nice."] * 3
    tagged = pseudo_label_spacy_ner(sentences)
    tags = {t for s in tagged for t in s.tags}
    assert "B-PERSON" in tags and "B-GPE" in tags and all(t == "O" or t[:2] in ("B-", "I-") for t in tags)
    assert tagged[0].words[:2] == ("Angela", "Merkel") and tagged[0].tags[:2] == ("B-PERSON", "I-PERSON")
    km = pseudo_label_spacy_kmeans(sentences, k=5, seed=0)
    assert km == pseudo_label_spacy_kmeans(sentences, k=5, seed=0) and len({t for s in km for t in s.tags}) <= 5
    write_pseudo_corpus(tmp_path / "c", tagged, {"method": "spacy-ner"})
    read_back, labels = read_pseudo_corpus(tmp_path / "c")
    assert read_back == tagged and "B-PERSON" in labels


def test_pseudo_label_cli(tiny_bert, tmp_path):
    from click.testing import CliRunner

    from mtpf_deploy.cli import main

    corpus = tmp_path / "leipzig.txt"
    corpus.write_text("".join(f"{i}\talice smith went to paris number {i % 7}\n" for i in range(40)))
    res = CliRunner().invoke(main, ["pseudo-label", "--teacher", str(tiny_bert), "--corpus", str(corpus), "--k", "4",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    meta = __import__("json").loads((tmp_path / "out/meta.json").read_text())
    assert meta["sentences"] == 40 and meta["k"] == 4 and len(meta["labels"]) <= 4
    assert (tmp_path / "out/train.tsv").read_text().startswith("alice\tC")  # the Leipzig id column is dropped
    res = CliRunner().invoke(main, ["pseudo-label", "--teacher", str(tiny_bert), "--corpus", str(corpus), "--k", "500",
                                    "--out", str(tmp_path / "big")])
    assert res.exit_code == 1 and "into K=500 clusters" in res.output and not (tmp_path / "big").exists()


def test_any_hugging_face_encoder_can_be_the_kmeans_teacher(tmp_path):
    """Issue 8: RoBERTa (byte-level BPE, <s> </s> <pad>) and DistilBERT teachers, not only BERT."""
    import pytest

    from mtpf_deploy.errors import MtpfError
    from mtpf_deploy.training.pretrain.pseudo_label import pseudo_label_kmeans
    from tests.conftest import vocabulary
    from tests.tiny_bert import make_tiny_distilbert, make_tiny_roberta

    sentences = ["alice smith went to paris.", "bob met carol in rome", "the big team saw a goal",
                 "pizza and pasta with soup", "a laptop and a phone"] * 4
    teachers = {"roberta": make_tiny_roberta(tmp_path / "roberta", sentences),
                "distilbert": make_tiny_distilbert(tmp_path / "distilbert", vocabulary())}
    for name, teacher in teachers.items():
        tagged = pseudo_label_kmeans(str(teacher), sentences, k=4, seed=0)
        assert tagged == pseudo_label_kmeans(str(teacher), sentences, k=4, seed=0), name
        assert tagged[0].words == ("alice", "smith", "went", "to", "paris", "."), (name, tagged[0].words)
        assert tagged[1].words == ("bob", "met", "carol", "in", "rome"), name
        assert len({t for s in tagged for t in s.tags}) > 1 and tagged[0].tags == tagged[5].tags, name
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text((teachers["roberta"] / "tokenizer.json").read_text())
    with pytest.raises(MtpfError, match="config.json"):
        pseudo_label_kmeans(str(tmp_path / "bad"), sentences, k=4)
