"""The data of :mod:`zeronlp.tasks.classify`: labelled texts (shipped news or the user's TSV files),
the word vectors the models start from, and task 70's mean-vector features."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.news import CATEGORIES, SPLITS, load_news
from ..data.ptb import load_ptb_sentences
from ..data.textfiles import LabelSet, get_tokenizer, read_labeled_tsv
from ..data.vocab import tokenize
from ..embeddings import Word2Vec
from ..errors import CheckpointError, DataError, UsageError
from ..fileio import atomic_open, atomic_path, not_regular
from ..models.classifier import load_word_vectors, mean_word_vectors
from ..progress import logger
from ..train import log

VALID_FRACTION = 0.1
VECTORS_KEY_FILE = "vectors.json"  # beside vectors.bin: which inputs made it (see vectors_key)
FEATURE_KEYS = ("X_train", "y_train", "X_valid", "y_valid")  # X_test/y_test only when there is a test set


# ---------------------------------------------------------------------------------------- data


@dataclass
class ClassifyData:
    """Texts and class ids per split (``train``, ``valid``, and ``test`` when there is one).

    ``labels[i]`` names class ``i``; ``sources`` says where each split came from; ``valid_from_train``
    is True when the validation set is the held-out end of the training file.
    """

    labels: list[str]
    splits: dict[str, tuple[list[str], np.ndarray]]
    sources: dict[str, str]
    valid_from_train: bool = False
    shipped: bool = False
    notes: list[str] = field(default_factory=list)
    tokenizer: str = "simple"  # how texts are split into words (a name in zeronlp.data.TOKENIZERS)

    def tokenize(self, text: str) -> list[str]:
        return get_tokenizer(self.tokenizer)(text)


def load_data(train: str | os.PathLike | None = None, valid: str | os.PathLike | None = None,
              test: str | os.PathLike | None = None, valid_fraction: float = VALID_FRACTION,
              tokenizer: str = "simple") -> ClassifyData:
    """Read and check every data file (the shipped news split when ``train`` is None).

    The label set is the sorted unique labels of the whole training file; a valid/test label outside
    it is a :class:`DataError` naming the file and line. Without ``valid`` the last ``valid_fraction``
    of the training lines (rounded, at least one, leaving at least one) become the validation set.
    """
    get_tokenizer(tokenizer)  # an unknown name fails before any file is read
    if train is None:
        if valid is not None or test is not None:
            raise UsageError("--valid/--test need --train (without --train the shipped news split is used)")
        splits = {split: load_news(split) for split in SPLITS}
        return ClassifyData(list(CATEGORIES), splits, {s: f"shipped news.{s}.txt" for s in SPLITS}, shipped=True,
                            tokenizer=tokenizer)
    if not 0 < valid_fraction < 1:
        raise UsageError(f"valid_fraction must be in (0, 1), got {valid_fraction!r}")
    names, texts = read_labeled_tsv(train)
    label_set = LabelSet.from_labels(names, train)
    targets = label_set.encode(names, train)
    sources = {"train": os.fspath(train)}
    notes = []
    if valid is not None:
        valid_names, valid_texts = read_labeled_tsv(valid)
        valid_split = (valid_texts, label_set.encode(valid_names, valid))
        sources["valid"] = os.fspath(valid)
    else:
        n = len(texts)
        if n < 2:
            raise DataError("has only one line, too few to hold out a validation part: pass --valid", train)
        n_valid = min(n - 1, max(1, round(n * valid_fraction)))
        cut = n - n_valid
        valid_split = (texts[cut:], targets[cut:])
        texts, targets = texts[:cut], targets[:cut]
        sources["train"] = f"{os.fspath(train)}, lines 1-{cut}"
        sources["valid"] = f"{os.fspath(train)}, lines {cut + 1}-{n}"
        notes.append(f"no --valid: holding out the last {n_valid} of {n} training lines "
                     f"({valid_fraction:.0%}, lines {cut + 1}-{n}) as the validation set")
        held_out = set(valid_split[1].tolist())
        if len(held_out) == 1 and len(label_set) > 1:
            notes.append(f"warning: the held-out lines all have the label {label_set.labels[held_out.pop()]!r} "
                         "(is the file sorted by label?); shuffle it or pass --valid")
    splits = {"train": (texts, targets), "valid": valid_split}
    if test is not None:
        test_names, test_texts = read_labeled_tsv(test)
        splits["test"] = (test_texts, label_set.encode(test_names, test))
        sources["test"] = os.fspath(test)
    else:
        notes.append("no --test: no test metrics are reported")
    return ClassifyData(label_set.to_list(), splits, sources, valid_from_train=valid is None, notes=notes,
                        tokenizer=tokenizer)


# ------------------------------------------------------------------------------- word vectors


def train_vectors(token_lists: Sequence[Sequence[str]], use_ptb: bool = False, vector_size: int = 300,
                  epochs: int = 10, repeats: int | None = 10, window: int = 5, sg: int = 1, seed: int = 0) -> Any:
    """Skip-gram word2vec on ``token_lists`` (repeated), optionally after PTB; returns ``KeyedVectors``.

    ``repeats=None`` picks as many repeats (1 to 10) as bring the texts to about 2M tokens, so a few
    hundred lines still give every word enough updates while a large file is read once per epoch.
    """
    if repeats is None:
        tokens = sum(len(t) for t in token_lists)
        repeats = max(1, min(10, 2_000_000 // max(tokens, 1)))
    sentences = (load_ptb_sentences("train") if use_ptb else []) + [list(t) for t in token_lists] * repeats
    model = Word2Vec(sentences=sentences, vector_size=vector_size, window=window, min_count=1, sg=sg, negative=5,
                     epochs=epochs, seed=seed + 1)
    return model.wv


def train_news_vectors(seed: int = 0, tokenize: Any = tokenize, **kwargs: Any) -> Any:
    """Task 70's vectors for the shipped news: skip-gram on PTB + the training titles repeated 10 times."""
    return train_vectors([tokenize(t) for t in load_news("train")[0]], use_ptb=True, seed=seed, **kwargs)


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def vectors_key(data: ClassifyData, vectors: str | os.PathLike | None, seed: int,
                limit: int | None = None) -> dict[str, Any]:
    """What a run's word vectors are made from: the ``vectors`` file (its name, size and SHA-256, and
    ``limit``), or word2vec's training data and seed. Stored beside the run's ``vectors.bin`` and in
    its checkpoint, so a resumed run can tell whether it is given the same inputs."""
    if vectors is not None:
        problem = not_regular(vectors)
        if problem is not None:
            raise DataError("no such word-vector file" if problem == "missing" else f"is {problem}, not a "
                            "word-vector file", vectors)
        return {"file": Path(vectors).name, "bytes": os.stat(vectors).st_size, "sha256": _sha256(vectors),
                "limit": limit}
    return {"word2vec_on": "shipped news + PTB" if data.shipped else data.sources["train"], "seed": seed}


def read_vectors_key(out_dir: Path) -> dict[str, Any] | None:
    """The key stored beside ``out_dir/vectors.bin`` (None if there is none or it is unreadable)."""
    path = out_dir / VECTORS_KEY_FILE
    if not_regular(path) is not None or path.stat().st_size > 1 << 16:
        return None
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return key if isinstance(key, dict) else None


def write_vectors_key(out_dir: Path, key: dict[str, Any]) -> None:
    with atomic_open(out_dir / VECTORS_KEY_FILE) as handle:
        json.dump(key, handle, indent=1)


def check_finite_vectors(vectors: Any, source: str | os.PathLike) -> Any:
    """``vectors`` unchanged; a :class:`DataError` naming ``source`` and the first word if any value is NaN/inf."""
    matrix = np.asarray(vectors.vectors)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise DataError(f"{int((~finite).sum())} word vector(s) hold NaN or infinite values (first: "
                        f"{vectors.index_to_key[bad]!r}); such vectors cannot be trained on", source)
    return vectors


def vectors_for(data: ClassifyData, vectors: str | os.PathLike | None, seed: int, quiet: bool,
                cached: Path | None = None, limit: int | None = None, key: dict[str, Any] | None = None
                ) -> tuple[Any, str]:
    """The run's word vectors and where they came from (nothing is written here); ``limit``: read only
    the first N vectors of the ``vectors`` file.

    ``cached``: a resumed run's ``vectors.bin``. It is used only if it was made from the same inputs:
    its stored key (``vectors.json`` beside it) must equal ``key`` when the caller passes ``vectors``
    (else a :class:`CheckpointError` says so); without ``vectors`` the run's copy is used as it is.
    """
    if cached is not None and cached.is_file():
        stored = read_vectors_key(cached.parent)
        if vectors is not None and stored is not None and key is not None and stored != key:
            raise CheckpointError(
                f"cannot resume: {cached} was made from {_describe_key(stored)}, but this run passes "
                f"{_describe_key(key)}; pass the same --vectors (or none, to use the run's copy), or use a new --out")
        if vectors is not None and stored is None:
            logger.warning(f"{cached} does not record which vectors made it: using it, not {vectors}")
        return check_finite_vectors(load_word_vectors(cached), cached), f"{cached} (resumed run)"
    if vectors is not None:
        loaded = check_finite_vectors(load_word_vectors(vectors, limit=limit), vectors)
        log(f"loaded {len(loaded)} word vectors of size {loaded.vector_size} from {vectors}", quiet)
        return loaded, os.fspath(vectors)
    started = time.perf_counter()
    texts = data.splits["train"][0]
    log("no --vectors: training word2vec first (a few minutes on the news; pass --vectors FILE to skip)", quiet)
    if data.shipped:
        trained = train_news_vectors(seed=seed, tokenize=data.tokenize)
        source = "word2vec on PTB + the training titles"
    else:
        trained = train_vectors([data.tokenize(t) for t in texts], repeats=None, seed=seed)
        source = "word2vec on the training texts"
    log(f"trained {source}: {len(trained)} words, {time.perf_counter() - started:.1f}s", quiet)
    return check_finite_vectors(trained, source), source


def _describe_key(key: dict[str, Any]) -> str:
    if "file" in key:
        return f"{key['file']} ({key.get('bytes')} bytes, sha256 {str(key.get('sha256'))[:12]}...)"
    return f"word2vec trained on {key.get('word2vec_on')} (seed {key.get('seed')})"


# ------------------------------------------------------------------------------- features (task 70)


def feature_arrays(data: ClassifyData, vectors: Any) -> dict[str, np.ndarray]:
    """``X_train, y_train, X_valid, ...``: mean word vectors and class ids of every split."""
    arrays: dict[str, np.ndarray] = {}
    for split, (texts, targets) in data.splits.items():
        arrays[f"X_{split}"] = mean_word_vectors(texts, vectors, tokenize=data.tokenize)
        arrays[f"y_{split}"] = np.asarray(targets, dtype=np.int64)
    return arrays


def save_features(path: str | os.PathLike, features: dict[str, np.ndarray],
                  labels: Sequence[str] | None = None) -> Path:
    """A plain safetensors file (keys ``X_train`` ...; the label names in its metadata), written atomically."""
    from safetensors.numpy import save_file

    path = Path(path)
    metadata = {"labels": json.dumps(list(labels))} if labels is not None else None
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in features.items()}, str(tmp), metadata=metadata)
    return path


def load_features(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], list[str]]:
    """``(features, labels)`` from what :func:`save_features` wrote; train and valid arrays must be there."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError("no such feature file (make it with `zeronlp classify features`)", path)
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            features = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # safetensors raises its own error types for a malformed header
        raise DataError(f"not a safetensors feature file ({err})", path) from None
    missing = [k for k in FEATURE_KEYS if k not in features]
    if missing:
        raise DataError(f"feature file lacks {', '.join(missing)}", path)
    if "labels" in metadata:
        labels = json.loads(metadata["labels"])
    else:  # an older file: class ids only
        top = max(int(features[k].max()) for k in features if k.startswith("y_") and features[k].size)
        labels = list(CATEGORIES) if top < len(CATEGORIES) else [str(i) for i in range(top + 1)]
    return features, labels


