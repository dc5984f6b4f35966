"""The book's word2vec models as ``nn.Module``s: SimpleCBOW (full softmax), CBOW and SkipGram.

``CBOW``/``SkipGram`` use an input :class:`~zeronlp.nn.Embedding`, an output embedding and the fused
negative-sampling loss, with negatives from the same :class:`UnigramSampler` as
:class:`zeronlp.embeddings.Word2Vec`, drawn from the backend's host Generator (``zn.manual_seed``).
``forward(contexts, target)`` takes ``contexts`` (N, 2*window) and ``target`` (N,) ids and
returns the mean loss; ``word_vecs`` are the input embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..embeddings.sampler import UnigramSampler
from ..functional.negative_sampling import negative_sampling_loss
from ..nn import Embedding, Module


class SimpleCBOW(Module):
    """``h = mean_j W_in[c_j]``, ``p = softmax(h W_out^T)``, loss = cross-entropy of the target (full softmax)."""

    def __init__(self, vocab_size: int, hidden_size: int):
        super().__init__()
        self.in_embed = Embedding(vocab_size, hidden_size)
        self.in_embed.weight.data *= 0.01
        self.out_embed = Embedding(vocab_size, hidden_size)
        self.out_embed.weight.data *= 0.01

    def forward(self, contexts: Any, target: Any) -> Tensor:
        h = F.mean(self.in_embed(F.as_ids(contexts, "SimpleCBOW contexts", ndim=2)), axis=1)
        target = F.as_ids(target, "SimpleCBOW target")
        return F.softmax_cross_entropy(F.matmul(h, F.transpose(self.out_embed.weight)), target)

    @property
    def word_vecs(self) -> Any:
        return self.in_embed.weight.data


class CBOW(Module):
    """``h = mean_j W_in[c_j]`` predicts the target against ``negative`` sampled words."""

    def __init__(self, vocab_size: int, hidden_size: int, counts: Sequence[int] | np.ndarray,
                 negative: int = 5, power: float = 0.75):
        super().__init__()
        if len(counts) != vocab_size:
            raise ValueError(f"{type(self).__name__}: {len(counts)} counts for a vocabulary of {vocab_size}")
        self.in_embed = Embedding(vocab_size, hidden_size)
        self.in_embed.weight.data *= 0.01
        self.out_embed = Embedding(vocab_size, hidden_size)
        self.out_embed.weight.data *= 0.01
        self.sampler = UnigramSampler(counts, power)
        self.negative = negative

    def _negatives(self, target: np.ndarray) -> Any:
        negatives = self.sampler.get_negative_sample(backend.get_host_rng(), backend.to_numpy(target),
                                                     self.negative)
        return backend.xp().asarray(negatives)

    def forward(self, contexts: Any, target: Any) -> Tensor:
        target = F.as_ids(target, f"{type(self).__name__} target", ndim=1)
        h = F.mean(self.in_embed(F.as_ids(contexts, f"{type(self).__name__} contexts", ndim=2)), axis=1)
        return negative_sampling_loss(h, self.out_embed.weight, target, self._negatives(target))

    @property
    def word_vecs(self) -> Any:
        return self.in_embed.weight.data


class SkipGram(CBOW):
    """The target's input vector predicts each context word (one negative-sampling loss per context slot)."""

    def forward(self, contexts: Any, target: Any) -> Tensor:
        contexts = F.as_ids(contexts, f"{type(self).__name__} contexts", ndim=2)
        target = F.as_ids(target, f"{type(self).__name__} target", ndim=1)
        n, slots = contexts.shape
        h = self.in_embed(backend.xp().repeat(target, slots))  # (N * slots, D)
        flat = contexts.reshape(-1)
        return negative_sampling_loss(h, self.out_embed.weight, flat, self._negatives(flat)) * slots
