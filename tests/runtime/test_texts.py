"""Texts and call arguments from apps: one str is one text, any iterable works, invalid Unicode and
bad arguments are clear errors, entity spans cover whole characters (issue 14, cases 8-11)."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.data.tokenization import WordEncoding
from mtpf_deploy.errors import InputError
from mtpf_deploy.runtime import Classification, SystemModel
from mtpf_deploy.runtime.tasks.ner_decode import decode_entities


@pytest.fixture(scope="module")
def system(tiny_bundle):
    s = SystemModel.load(tiny_bundle, threads=1)
    s.load_adapter("ner")
    s.load_adapter("tc")
    return s


def test_one_str_is_one_text(system):
    one = system.classify("pizza and pasta with soup", "tc")
    assert isinstance(one, Classification) and one == system.classify(["pizza and pasta with soup"], "tc")[0]
    assert system.entities("alice smith went to paris", "ner") == system.entities(["alice smith went to paris"], "ner")[0]
    assert system.embed("the team").shape == (system.backbone["hidden_size"],)


def test_any_iterable_of_str(system):
    texts = ["pizza and pasta", "the goal of the match"]
    assert system.classify((t for t in texts), "tc") == system.classify(texts, "tc")
    assert system.classify(tuple(texts), "tc") == system.classify(texts, "tc")
    assert system.classify([], "tc") == []


@pytest.mark.parametrize("texts,fragment", [
    (42, "texts must be a str or an iterable of str, not int"),
    (b"bytes", "not bytes"),
    (["fine", 3], "text 1 is a int, not a str"),
    (["ok", None], "text 1 is a NoneType"),
    (["Taylor \udcff Swift"], "text 0 is not valid Unicode: surrogates not allowed at character 7"),
])
def test_bad_texts_are_clear_errors(system, texts, fragment):
    for call in (lambda: system.classify(texts, "tc"), lambda: system.entities(texts, "ner"), lambda: system.embed(texts)):
        with pytest.raises(InputError) as info:
            call()
        assert fragment in str(info.value)


@pytest.mark.parametrize("kw,fragment", [
    (dict(stride=1000), "stride 1000 is larger than the window"),
    (dict(stride=-3), "stride must be a positive integer, not -3"),
    (dict(stride=0), "stride must be a positive integer, not 0"),
    (dict(stride=2.5), "stride must be a positive integer"),
    (dict(batch_size=0), "batch_size must be a positive integer, not 0"),
])
def test_bad_call_arguments(system, kw, fragment):
    with pytest.raises(InputError, match=None) as info:
        system.entities(["alice smith went to paris " * 40], "ner", **kw)
    assert fragment in str(info.value)


def test_any_valid_stride_gives_consistent_windows(system):
    text = "alice smith went to paris and then met bob smith in rome " * 12
    size = system.adapters["ner"].max_length - 2
    for stride in (1, 7, size // 2, size):
        for e in system.entities(text, "ner", stride=stride):
            assert text[e.start:e.end] == e.text


def test_empty_text_says_so(system):
    empty, blank, full = system.classify(["", "   ", "pizza"], "tc")
    assert empty.empty and blank.empty and empty.tokens == 0 and not full.empty
    assert system.entities(["", " \t "], "ner") == [[], []]


def test_entity_spans_cover_combining_marks():
    text = "I met Chloe\u0301 in Paris"  # NFD: the accent follows the e
    spans = [(0, 1), (2, 5), (6, 11), (13, 15), (16, 21)]  # word spans as a normaliser that drops marks gives them
    enc = WordEncoding(text, [1, 2, 3, 4, 5], spans, [0, 1, 2, 3, 4], spans)
    words = [(0, 0.9), (0, 0.9), (1, 0.8), (0, 0.9), (2, 0.7)]
    ents = decode_entities(text, enc, words, ["O", "B-PER", "B-LOC"])
    assert [(e.text, e.start, e.end) for e in ents] == [("Chloe\u0301", 6, 12), ("Paris", 16, 21)]


def test_runtime_spans_never_split_a_character(system):
    for text in ["alice smith went to Pari\u0301s", "bob smith\u0308 met carol", "went to rome\u0301\u0302 then",
                 "Cafe\u0301 alice smith", "e\u0301\u0301\u0301 paris"]:
        for e in system.entities(text, "ner"):
            assert text[e.start:e.end] == e.text
            assert e.end == len(text) or not __import__("unicodedata").combining(text[e.end]), (text, e)
            assert not __import__("unicodedata").combining(text[e.start]), (text, e)


def test_predict_cli_reports_bad_encodings(tiny_bundle, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "ner", "Taylor \udcff Swift"])
    assert res.exit_code == 1 and "argument 1 is not valid UTF-8" in res.output and "Traceback" not in res.output
    (tmp_path / "latin1.txt").write_bytes(b"fine line\nTaylor \xff Swift\n")
    res = runner.invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "ner", "--input",
                               str(tmp_path / "latin1.txt")])
    assert res.exit_code == 1 and "latin1.txt:2: not valid UTF-8" in res.output, res.output
    (tmp_path / "u16.txt").write_text("paris\n", encoding="utf-16")
    res = runner.invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "ner", "--input",
                               str(tmp_path / "u16.txt")])
    assert res.exit_code == 1 and "UTF-16" in res.output, res.output
    (tmp_path / "ok.txt").write_text("alice smith went to paris\n\npizza\n", encoding="utf-8")
    res = runner.invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "tc", "--input", str(tmp_path / "ok.txt")])
    assert res.exit_code == 0 and res.output.count('"adapter": "tc"') == 3, res.output
    for bad in (["--batch-size", "0"], ["--threads", "0"], ["--top-k", "-1"]):
        res = runner.invoke(main, ["predict", "--bundle", str(tiny_bundle), "--adapter", "tc", *bad, "x"])
        assert res.exit_code != 0 and "Traceback" not in res.output and bad[0] in res.output, res.output


def test_results_are_finite(system):
    for c in system.classify(["pizza", "", "goal " * 300], "tc"):
        assert np.isfinite(c.score) and all(np.isfinite(v) for v in c.probabilities.values())


def test_batches_hold_rows_of_similar_length(system, monkeypatch):
    """Padding is work: rows batched together are at most 1.25x longer than the batch's shortest."""
    widths = []
    real = system.run_ids

    def spy(rows, adapter=None):
        widths.append(sorted(len(r) for r in rows))
        return real(rows, adapter)
    monkeypatch.setattr(system, "run_ids", spy)
    rows = [[system.cls_id, *([7] * n), system.sep_id] for n in (60, 8, 60, 9, 30)]
    got = dict(system.batched(rows, None, batch_size=32))
    assert sorted(got) == list(range(5)) and all(got[i].shape[0] == len(rows[i]) for i in range(5))
    assert widths == [[10, 11], [32], [62, 62]]
    widths.clear()
    list(system.batched(rows, None, batch_size=1))
    assert len(widths) == 5


def test_default_stride_overlaps_a_quarter_window_at_most_32_tokens():
    from mtpf_deploy.runtime.tasks.ner import default_stride

    assert default_stride(126) == 95 and default_stride(8) == 6 and default_stride(1) == 1 and default_stride(510) == 478
