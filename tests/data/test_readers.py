"""Readers on small hand-written files covering each format and its gotchas, and on the demo samples."""
from __future__ import annotations

import gzip
import json

import pytest

from mtpf_deploy.data.bio import read_aligned_bio, read_bio
from mtpf_deploy.data.corpus import read_unlabeled
from mtpf_deploy.data.pairs import read_tsv_pairs
from mtpf_deploy.data.splits import load_task_splits, read_file
from mtpf_deploy.data.text import read_aligned, read_csv, read_json_splits, read_jsonl, read_label_text, read_split_last
from mtpf_deploy.data.types import LabeledText
from mtpf_deploy.errors import DataFormatError, MtpfError
from tests.conftest import REPO


def write(path, text: str, gz: bool = False, encoding="utf-8"):
    data = text.encode(encoding)
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_bio_tab_space_gz_docstart_and_whitespace_separators(tmp_path):
    conll = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n \nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
    s = read_bio(write(tmp_path / "c.txt.gz", conll, gz=True))
    assert [x.words for x in s] == [("EU", "rejects"), ("Peter", "Blackburn")]
    assert [x.tags for x in s] == [("B-ORG", "O"), ("B-PER", "I-PER")]
    wnut = "@paul\tO\nParis\tB-location\n\t\nhi\tO\n"  # a TAB-only line separates sentences
    assert len(read_bio(write(tmp_path / "w.conll", wnut))) == 2


def test_bio_tag_first_is_detected(tmp_path):
    s = read_bio(write(tmp_path / "m.txt", "B-Rating 2\nI-Rating start\nO with\n\nO hi\n"))
    assert s[0].words == ("2", "start", "with") and s[0].tags == ("B-Rating", "I-Rating", "O")


def test_bio_errors_name_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=r"bad\.conll:3: expected a token and a tag"):
        read_bio(write(tmp_path / "bad.conll", "a\tO\nb\tO\nlonely\n"))
    with pytest.raises(DataFormatError, match=r"tags\.conll:2: bad tag 'X-FOO'"):
        read_bio(write(tmp_path / "tags.conll", "a\tO\nb\tX-FOO\n"), tag_position="last")
    with pytest.raises(DataFormatError, match="not valid UTF-8"):
        read_bio(write(tmp_path / "latin.conll", "caf\xe9\tO\n", encoding="latin-1"))
    truncated = gzip.compress(b"a\tO\n" * 1000)[:-20]
    (tmp_path / "t.gz").write_bytes(truncated)
    with pytest.raises(DataFormatError, match="cannot be read"):
        read_bio(tmp_path / "t.gz")


def test_aligned_bio(tmp_path):
    write(tmp_path / "seq.in", "play some jazz\nbook it\n")
    write(tmp_path / "seq.out", "O O B-genre\nO O\n")
    s = read_aligned_bio(tmp_path / "seq.in", tmp_path / "seq.out")
    assert s[0].tags == ("O", "O", "B-genre")
    write(tmp_path / "bad.out", "O O\nO O\n")
    with pytest.raises(DataFormatError, match=r"bad\.out:1: 2 tags for 3 words"):
        read_aligned_bio(tmp_path / "seq.in", tmp_path / "bad.out")


def test_csv_variants(tmp_path):
    f = write(tmp_path / "b.csv", "text,category\n\"hi, there\",greet\nbye,leave\n")
    assert read_csv(f, label="category") == [LabeledText("hi, there", "greet"), LabeledText("bye", "leave")]
    f = write(tmp_path / "ag.csv", "Class Index,Title,Description\n3,Title here,Body here\n")
    assert read_csv(f, text=["Title", "Description"], label="Class Index", label_names={"3": "Business"}) == [
        LabeledText("Title here Body here", "Business")]
    f = write(tmp_path / "q.tsv", 'sentence\tis_counterfactual\n"quoted, text"\t1\n')
    assert read_csv(f, text="sentence", label="is_counterfactual", delimiter="\t")[0].text == "quoted, text"
    with pytest.raises(MtpfError, match="no column 'label'"):
        read_csv(write(tmp_path / "x.csv", "text,category\na,b\n"))
    with pytest.raises(DataFormatError, match=r"short\.csv:3: expected at least 2 fields"):
        read_csv(write(tmp_path / "short.csv", "text,label\na,b\nonly\n"))
    with pytest.raises(DataFormatError, match=r"lab\.csv:2: label '7' is not one of"):
        read_csv(write(tmp_path / "lab.csv", "text,label\na,7\n"), label_names={"0": "neg", "1": "pos"})


def test_line_formats(tmp_path):
    assert read_label_text(write(tmp_path / "s.txt", "1 a fine film\n0 bad\n"), {"0": "neg", "1": "pos"})[0] == \
        LabeledText("a fine film", "pos")
    assert read_split_last(write(tmp_path / "e.txt", "text;label_name\ni feel; really sad;sadness\n"), ";", header=True) == \
        [LabeledText("i feel; really sad", "sadness")]
    assert read_split_last(write(tmp_path / "f.txt", "EUR@5m profit@positive\n"), "@")[0].label == "positive"
    with pytest.raises(DataFormatError, match=r"n\.txt:1: expected 'text@label'"):
        read_split_last(write(tmp_path / "n.txt", "no separator here\n"), "@")


def test_aligned_text_keeps_empty_lines(tmp_path):
    write(tmp_path / "t.txt", "first\n\nthird\n")
    write(tmp_path / "l.txt", "0\n1\n0\n")
    out = read_aligned(tmp_path / "t.txt", tmp_path / "l.txt", {"0": "no", "1": "yes"})
    assert [x.text for x in out] == ["first", "", "third"] and out[1].label == "yes"
    write(tmp_path / "l2.txt", "0\n1\n")
    with pytest.raises(DataFormatError, match="has 2 labels but"):
        read_aligned(tmp_path / "t.txt", tmp_path / "l2.txt")


def test_json_formats(tmp_path):
    f = write(tmp_path / "d.jsonl", '{"text": "hi", "label": 1}\n\n{"text": "yo", "label": 0}\n')
    assert read_jsonl(f) == [LabeledText("hi", "1"), LabeledText("yo", "0")]
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:1: invalid JSON"):
        read_jsonl(write(tmp_path / "bad.jsonl", "{nope\n"))
    f = write(tmp_path / "s.json", json.dumps({"train": [{"text": "a", "label": "x"}], "test": []}))
    assert read_json_splits(f, "train") == [LabeledText("a", "x")]
    with pytest.raises(MtpfError, match="no split 'dev'"):
        read_json_splits(f, "dev")


def test_pairs_quoting_bom_crlf(tmp_path):
    f = write(tmp_path / "sts.csv", 'g\tf\t2012\t1\t4.5\tA "quoted\tB sentence\textra\tmore\n')
    p = read_tsv_pairs(f, a=5, b=6, score=4, header=False)[0]
    assert (p.text_a, p.text_b, p.score) == ('A "quoted', "B sentence", 4.5)
    f = write(tmp_path / "mrpc.tsv", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\tx y\tx z\r\n")
    p = read_tsv_pairs(f, a=3, b=4, label=0)[0]
    assert (p.label, p.text_b) == ("1", "x z")
    with pytest.raises(DataFormatError, match=r"sts2\.csv:1: score 'high' is not a number"):
        read_tsv_pairs(write(tmp_path / "sts2.csv", "g\tf\t2012\t1\thigh\ta\tb\n"), a=5, b=6, score=4, header=False)
    assert read_unlabeled(write(tmp_path / "l.txt", "1\tOne.\n\n2\tTwo.\n"), column=1) == ["One.", "Two."]


def test_empty_split_and_missing_file_are_errors(tmp_path):
    empty = write(tmp_path / "empty.conll", "\n\n")
    with pytest.raises(MtpfError, match="the train split is empty"):
        load_task_splits("ner", files={"train": empty})
    with pytest.raises(MtpfError, match="no such file"):
        read_file(tmp_path / "missing.conll", "bio")
    with pytest.raises(MtpfError, match="does not fit task ner"):
        load_task_splits("ner", files={"train": empty}, fmt="csv")
    with pytest.raises(MtpfError, match="--format is required"):
        load_task_splits("tc", files={"train": empty})


def test_committed_demo_samples_load():
    ner = load_task_splits("ner", files={"train": REPO / "demo_data/wnut17_train.conll",
                                         "dev": REPO / "demo_data/wnut17_dev.conll"})
    assert len(ner["train"]) == 1500 and len(ner["dev"]) == 400
    tc = load_task_splits("tc", files={"train": REPO / "demo_data/banking77_train.csv",
                                       "test": REPO / "demo_data/banking77_test.csv"}, fmt="csv")
    assert len({x.label for x in tc["train"]}) == 77
