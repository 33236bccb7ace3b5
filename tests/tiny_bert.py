"""Tiny random BERTs built in-process from a config, for tests and quick experiments."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_wordpiece_tokenizer(words: Iterable[str], lowercase: bool = True) -> Tokenizer:
    """A BERT-style WordPiece tokenizer over the given words plus single characters (as ## pieces too)."""
    vocab_list = list(SPECIALS)
    seen = set(vocab_list)
    chars: set[str] = set()
    for w in words:
        w = w.lower() if lowercase else w
        chars.update(w)
        if w not in seen:
            seen.add(w)
            vocab_list.append(w)
    for c in sorted(chars):
        for piece in (c, "##" + c):
            if piece not in seen:
                seen.add(piece)
                vocab_list.append(piece)
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    return tok


def make_tiny_bert(
    out_dir: str | Path,
    words: Iterable[str],
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    intermediate: int = 64,
    max_positions: int = 128,
    seed: int = 0,
    dropout: float = 0.1,
) -> Path:
    """Write a random BERT (config.json, model.safetensors, tokenizer.json) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = build_wordpiece_tokenizer(words)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=intermediate, max_position_embeddings=max_positions,
        pad_token_id=0, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    BertModel(config, add_pooling_layer=False).save_pretrained(out_dir)
    tok.save(str(out_dir / "tokenizer.json"))
    return out_dir


def make_tiny_roberta(out_dir: str | Path, sentences: list[str], hidden: int = 32, seed: int = 0) -> Path:
    """A random RoBERTa with a byte-level BPE tokenizer trained on ``sentences`` (``<s> </s> <pad>``)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer(add_prefix_space=True, trim_offsets=True)
    bpe.train_from_iterator(sentences, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.post_processor = processors.RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=True)
    bpe.save(str(out_dir / "tokenizer.json"))
    torch.manual_seed(seed)
    config = RobertaConfig(vocab_size=bpe.get_vocab_size(), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=2 * hidden, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2, type_vocab_size=1)
    RobertaModel(config, add_pooling_layer=False).save_pretrained(out_dir)
    return out_dir


def make_tiny_distilbert(out_dir: str | Path, words: Iterable[str], hidden: int = 32, seed: int = 0) -> Path:
    """A random DistilBERT with the tests' WordPiece tokenizer."""
    from transformers import DistilBertConfig, DistilBertModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = build_wordpiece_tokenizer(words)
    tok.save(str(out_dir / "tokenizer.json"))
    torch.manual_seed(seed)
    config = DistilBertConfig(vocab_size=tok.get_vocab_size(), dim=hidden, n_layers=2, n_heads=2, hidden_dim=2 * hidden,
                              max_position_embeddings=128, pad_token_id=0)
    DistilBertModel(config).save_pretrained(out_dir)
    return out_dir
