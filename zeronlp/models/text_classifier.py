"""A text classifier with trainable word embeddings and a choice of encoder.

Texts (news titles, reviews, ...) become rows of token ids padded on the right with ``<pad>`` (id 0);
the model trims each batch to its longest text and builds a mask from the padding, so pooling never
sees padding:

* ``"mean"``: mean of the embeddings of the real tokens (fastText-like), then a linear layer;
* ``"bigru"``: a GRU reads the text forwards and another reads it backwards (each text is reversed
  within its own length, so neither direction starts on padding); their outputs are concatenated
  and max-pooled over the real positions;
* ``"cnn"``: TextCNN (Kim 2014): ``Conv1d`` filters of several widths, ReLU, max-pool over time.

An empty text, or one whose words are all unknown, is encoded as a single ``<unk>`` token: the
model then predicts from the ``<unk>`` embedding alone (a defined prediction, not an error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, array_of
from ..data.vocab import Vocabulary, tokenize
from ..nn import GRU, Conv1d, Dropout, Embedding, Linear, Module, ModuleList

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
ENCODERS = ("mean", "bigru", "cnn")


def build_vocabulary(token_lists: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
    """Vocabulary of the training texts: ``<pad>`` = 0, ``<unk>`` = 1, then words by frequency."""
    counted = Vocabulary.build(token_lists, min_count=min_count, order="frequency")
    return Vocabulary([PAD, UNK, *counted.id_to_word], [0, 0, *counted.counts], unk_token=UNK)


def encode_texts(texts: Sequence[str], vocab: Vocabulary, max_length: int = 48,
                 tokenize: Callable[[str], list[str]] = tokenize) -> np.ndarray:
    """Token ids ``(N, L)`` int64, right-padded with ``<pad>``; texts longer than ``max_length`` tokens are cut.

    Texts are split with ``tokenize`` (default :func:`~zeronlp.data.tokenize`: lower-case, punctuation
    split off). Unknown
    words become ``<unk>``; an empty text becomes the single token ``<unk>``.
    """
    rows = [vocab.encode(tokenize(text)[:max_length]) for text in texts]
    rows = [row if row.size else np.array([UNK_ID], dtype=np.int64) for row in rows]
    width = max((row.size for row in rows), default=1)
    ids = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :row.size] = row
    return ids


def pretrained_matrix(vocab: Vocabulary, vectors: Any, seed: int = 0) -> tuple[np.ndarray, int]:
    """An embedding matrix for ``vocab`` from word vectors (a ``KeyedVectors``).

    Known words copy their vector; the others (and ``<unk>``) draw N(0, s^2) with ``s`` the standard
    deviation of the known vectors; ``<pad>`` is zero. Returns the matrix and the number of known words.
    """
    dim = vectors.vector_size
    rng = np.random.default_rng(seed)
    known = [(i, word) for i, word in enumerate(vocab.id_to_word) if i > UNK_ID and word in vectors]
    scale = float(np.std(np.stack([vectors[w] for _, w in known]))) if known else 0.1
    matrix = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    for i, word in known:
        matrix[i] = vectors[word]
    matrix[PAD_ID] = 0
    return matrix, len(known)


def _trim(ids: Any, min_length: int) -> tuple[Any, Any]:
    """Cut the padding columns every row has, keeping at least ``min_length``; return ids and lengths."""
    xp = backend.get_array_module(ids)
    lengths = (ids != PAD_ID).sum(axis=1)
    width = max(int(lengths.max()) if lengths.size else 1, min_length)
    if width < ids.shape[1]:
        ids = ids[:, :width]
    elif width > ids.shape[1]:
        ids = xp.concatenate([ids, xp.zeros((ids.shape[0], width - ids.shape[1]), dtype=ids.dtype)], axis=1)
    return ids, lengths


def reverse_within_length(ids: Any, lengths: Any) -> Any:
    """Reverse each row's first ``length`` ids in place of order, padding stays at the end."""
    xp = backend.get_array_module(ids)
    positions = xp.arange(ids.shape[1])[None, :]
    source = xp.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    return xp.take_along_axis(ids, source, axis=1)


class TextClassifier(Module):
    """Embedding -> encoder (``mean`` | ``bigru`` | ``cnn``) -> dropout -> linear, on padded id rows.

    ``forward(ids)`` takes ``(N, L)`` integer ids (``<pad>`` = 0 on the right) and returns ``(N, C)`` logits.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, num_classes: int, encoder: str = "cnn",
                 hidden_size: int = 128, kernel_sizes: Sequence[int] = (2, 3, 4), num_filters: int = 128,
                 dropout: float = 0.5, embeddings: Any = None):
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
        self.encoder, self.kernel_sizes = encoder, tuple(int(k) for k in kernel_sizes)
        if embeddings is not None:
            self.embedding = Embedding.from_pretrained(embeddings, freeze=False, padding_idx=PAD_ID)
        else:
            self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        if self.embedding.weight.shape != (vocab_size, embedding_dim):
            raise ValueError(f"TextClassifier: embeddings of shape {self.embedding.weight.shape} given for "
                             f"({vocab_size}, {embedding_dim})")
        if encoder == "mean":
            features = embedding_dim
        elif encoder == "bigru":
            self.gru_forward = GRU(embedding_dim, hidden_size, batch_first=True)
            self.gru_backward = GRU(embedding_dim, hidden_size, batch_first=True)
            features = 2 * hidden_size
        else:
            self.convs = ModuleList(Conv1d(embedding_dim, num_filters, k) for k in self.kernel_sizes)
            features = num_filters * len(self.kernel_sizes)
        self.dropout = Dropout(dropout)
        self.output = Linear(features, num_classes)

    def encode(self, ids: Any) -> Tensor:
        """Fixed-size text representations ``(N, features)``."""
        xp = backend.xp()
        ids = xp.asarray(array_of(ids))
        min_length = max(self.kernel_sizes) if self.encoder == "cnn" else 1
        ids, lengths = _trim(ids, min_length)
        lengths = xp.maximum(lengths, 1)
        positions = xp.arange(ids.shape[1])[None, :]
        embedded = self.embedding(ids)  # (N, L, E); <pad> rows are zero
        if self.encoder == "mean":
            return embedded.sum(axis=1) / lengths[:, None].astype(embedded.dtype)
        if self.encoder == "bigru":
            mask = positions < lengths[:, None]
            forward, _ = self.gru_forward(embedded)
            backward, _ = self.gru_backward(self.embedding(reverse_within_length(ids, lengths)))
            both = F.concat([forward, backward], axis=2)  # (N, L, 2H)
            return F.max_over_time(both.transpose(0, 2, 1), mask)
        channels = embedded.transpose(0, 2, 1)  # (N, E, L)
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            # windows lying wholly inside the text; a text shorter than k keeps its first window
            mask = positions[:, :ids.shape[1] - k + 1] < xp.maximum(lengths - k + 1, 1)[:, None]
            pooled.append(F.max_over_time(F.relu(conv(channels)), mask))
        return F.concat(pooled, axis=1) if len(pooled) > 1 else pooled[0]

    def forward(self, ids: Any) -> Tensor:
        return self.output(self.dropout(self.encode(ids)))
