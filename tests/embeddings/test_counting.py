import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from zeronlp.data import preprocess
from zeronlp.embeddings import KeyedVectors, UnigramSampler, cooccurrence_matrix, ppmi, svd_vectors


def book_corpus():
    return preprocess("You say goodbye and I say hello.")


def test_cooccurrence_book_example():
    corpus, word_to_id, _ = book_corpus()
    C = cooccurrence_matrix(corpus, len(word_to_id), window=1).toarray()
    expected = np.array(
        [
            [0, 1, 0, 0, 0, 0, 0],
            [1, 0, 1, 0, 1, 1, 0],
            [0, 1, 0, 1, 0, 0, 0],
            [0, 0, 1, 0, 1, 0, 0],
            [0, 1, 0, 1, 0, 0, 0],
            [0, 1, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0],
        ]
    )
    np.testing.assert_array_equal(C, expected)
    C2 = cooccurrence_matrix(corpus, len(word_to_id), window=2).toarray()
    assert C2[0, 2] == 1 and C2[0, 1] == 1 and C2[0, 3] == 0
    np.testing.assert_array_equal(C2, C2.T)


def test_ppmi_hand_computed():
    counts = sp.csr_matrix(np.array([[0, 2, 0], [2, 1, 0], [0, 0, 0]], dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        M = ppmi(counts).toarray()
    # N = 5, row sums S = (2, 3, 0)
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 0] = np.log2(2 * 5 / (2 * 3))  # 0.737
    # M[1, 1] = log2(1 * 5 / 9) < 0 -> 0; the unused word keeps a zero row
    np.testing.assert_allclose(M, expected, rtol=1e-6)
    assert M.dtype == np.float32


def test_ppmi_book_values():
    corpus, word_to_id, _ = book_corpus()
    M = ppmi(cooccurrence_matrix(corpus, len(word_to_id), 1)).toarray()
    # the book prints these (chapter 2, ppmi)
    np.testing.assert_allclose(M[0], [0, 1.807, 0, 0, 0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(M[1], [1.807, 0, 0.807, 0, 0.807, 0.807, 0], atol=1e-3)
    np.testing.assert_allclose(M[5], [0, 0.807, 0, 0, 0, 0, 2.807], atol=1e-3)


def test_svd_reproduces_cooccurrence_structure():
    corpus, word_to_id, id_to_word = book_corpus()
    M = ppmi(cooccurrence_matrix(corpus, len(word_to_id), 1)).toarray().astype(np.float64)
    full = svd_vectors(M, dim=7, power=1.0).astype(np.float64)
    # U S (U S)^T = M M^T: the vectors keep every inner product between PPMI rows
    np.testing.assert_allclose(full @ full.T, M @ M.T, atol=1e-4)
    # the singular values come in equal pairs, so keep whole pairs (dim 4): a cut inside a pair
    # picks an arbitrary vector of the pair's plane, and the ranking would depend on the BLAS kernels
    kv = KeyedVectors([id_to_word[i] for i in range(7)], svd_vectors(M, dim=4, power=1.0))
    # "goodbye" and "i" have the same contexts (say, and): identical rows, identical vectors
    assert kv.similarity("goodbye", "i") == pytest.approx(1.0, abs=1e-5)
    assert kv.most_similar("goodbye", topn=1)[0][0] == "i"
    assert kv.similarity("you", "say") < 0.5


def test_svd_sparse_path_deterministic():
    M = sp.random(1200, 1200, density=0.01, random_state=1, format="csr", dtype=np.float32)
    M = M + M.T
    a, b = svd_vectors(M, 8, seed=3), svd_vectors(M, 8, seed=3)
    np.testing.assert_array_equal(a, b)
    _, s, _ = np.linalg.svd(M.toarray())
    top = svd_vectors(M, 8, power=1.0)
    np.testing.assert_allclose(np.linalg.norm(top, axis=0), s[:8], rtol=1e-3)


def test_sampler_matches_unigram_power():
    counts = np.array([500, 120, 60, 30, 7, 1, 0, 250])
    sampler = UnigramSampler(counts, power=0.75)
    expected = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(sampler.probs, expected)
    draws = sampler.sample(np.random.default_rng(123), (200, 1000))
    assert draws.shape == (200, 1000)
    observed = np.bincount(draws.ravel(), minlength=counts.size)
    assert observed[6] == 0  # zero count is never drawn
    nz = expected > 0
    _, p = stats.chisquare(observed[nz], expected[nz] * draws.size)
    assert p > 1e-3
    # a distribution that is *not* unigram^0.75 is rejected by the same test
    raw = counts / counts.sum()
    _, p_raw = stats.chisquare(observed[nz], raw[nz] * draws.size)
    assert p_raw < 1e-6


def test_sampler_same_seed_same_draws_and_excludes_target():
    sampler = UnigramSampler([5, 3, 2, 1])
    a = sampler.sample(np.random.default_rng(7), 50)
    b = sampler.sample(np.random.default_rng(7), 50)
    np.testing.assert_array_equal(a, b)
    target = np.array([0, 1, 2, 3] * 50)
    neg = sampler.get_negative_sample(np.random.default_rng(0), target, 5)
    assert neg.shape == (200, 5) and not (neg == target[:, None]).any()
    with pytest.raises(ValueError):
        UnigramSampler([0, 0])
