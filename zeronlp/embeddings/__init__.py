"""Word vectors: counting methods (co-occurrence, PPMI, SVD) and word2vec, with KeyedVectors."""

from .cooccurrence import cooccurrence_matrix
from .keyedvectors import KeyedVectors, load_vectors
from .ppmi import ppmi
from .sampler import UnigramSampler
from .svd import ppmi_svd_keyed_vectors, svd_vectors
from .word2vec import LineSentence, Word2Vec

__all__ = [
    "cooccurrence_matrix", "ppmi", "svd_vectors", "ppmi_svd_keyed_vectors", "UnigramSampler",
    "Word2Vec", "LineSentence", "KeyedVectors", "load_vectors",
]
