import numpy as np
import pytest

from zeronlp.embeddings import Word2Vec
from zeronlp.embeddings.sampler import UnigramSampler
from zeronlp.embeddings.word2vec import MAX_WORDS_IN_SENTENCE, count_pairs
from zeronlp.embeddings.word2vec_kernels import fill_negatives, negative_draws

GROUPS = {
    "animal": ["cat", "dog", "cow", "horse", "sheep"],
    "food": ["bread", "rice", "apple", "cheese", "soup"],
    "vehicle": ["car", "bus", "train", "bike", "truck"],
    "place": ["city", "town", "village", "farm", "park"],
}
TEMPLATES = [
    ("the", "animal", "eats", "food", "in", "the", "place"),
    ("a", "vehicle", "drives", "to", "the", "place"),
    ("my", "animal", "likes", "food"),
    ("we", "took", "the", "vehicle", "from", "the", "place"),
]


def planted_corpus(n: int, seed: int = 0) -> list[list[str]]:
    """Sentences from templates: words of one group fill the same slots, so they share contexts."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n):
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        sentences.append([GROUPS[t][rng.integers(5)] if t in GROUPS else t for t in template])
    return sentences


def small_corpus() -> list[list[str]]:
    return planted_corpus(60, seed=1)


@pytest.mark.parametrize("sg", [0, 1])
def test_numba_kernel_equals_numpy_reference(sg):
    sentences = small_corpus()
    model = Word2Vec(
        vector_size=16, window=3, min_count=1, sg=sg, negative=4, sample=1e-2, compute_loss=True, seed=5
    )
    model.build_vocab(sentences)
    ids, offsets = model.encode(sentences)
    plan = model.make_plan(ids, offsets, 0.05, 0.01)
    # train a little first so vectors and output weights are not at their initial values
    model.run_plan(model.make_plan(ids, offsets, 0.05, 0.05))
    start_in, start_out = model.wv.vectors.copy(), model.syn1neg.copy()
    loss_numba = model.run_plan(plan, backend="numba")
    got_in, got_out = model.wv.vectors.copy(), model.syn1neg.copy()
    model.wv.vectors[:] = start_in
    model.syn1neg[:] = start_out
    loss_numpy = model.run_plan(plan, backend="numpy")
    assert np.abs(got_in - start_in).max() > 1e-3  # the plan really changed the vectors
    np.testing.assert_allclose(got_in, model.wv.vectors, atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(got_out, model.syn1neg, atol=1e-6, rtol=1e-5)
    assert loss_numba == pytest.approx(loss_numpy, rel=1e-5)


@pytest.mark.parametrize("sg", [0, 1])
def test_same_seed_same_vectors(sg):
    sentences = small_corpus()
    kwargs = dict(vector_size=12, window=3, min_count=1, sg=sg, epochs=2)
    a = Word2Vec(sentences, seed=3, **kwargs).wv.vectors
    b = Word2Vec(sentences, seed=3, **kwargs).wv.vectors
    c = Word2Vec(sentences, seed=4, **kwargs).wv.vectors
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("sg, workers", [(0, 1), (1, 1), (0, 3), (1, 3)])
def test_learns_planted_groups(sg, workers):
    """Also with worker threads (Hogwild updates from several threads, gensim's ``workers``)."""
    sentences = planted_corpus(3000)
    model = Word2Vec(
        sentences,
        workers=workers,
        batch_words=2000,  # several chunks, so the threads really share the work
        vector_size=24,
        window=3,
        min_count=1,
        sg=sg,
        sample=0,
        epochs=5,
        alpha=0.025,
        seed=2,
        compute_loss=True,
    )
    assert model.losses[-1] < model.losses[0]
    wv = model.wv
    for members in GROUPS.values():
        for word in members:
            top = [w for w, _ in wv.most_similar(word, topn=4)]
            assert set(top) == set(members) - {word}, (word, top)


def test_numpy_backend_trains_whole_model():
    sentences = small_corpus()
    kwargs = dict(vector_size=8, window=2, min_count=1, epochs=1, seed=0)
    a = Word2Vec(sentences, backend="numba", **kwargs).wv.vectors
    b = Word2Vec(sentences, backend="numpy", **kwargs).wv.vectors
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_count_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    offsets = np.array([0, 1, 5, 5, 12, 20])
    reduced = rng.integers(0, 4, size=20).astype(np.int32)
    got = count_pairs(offsets, 4, reduced)
    for s in range(len(offsets) - 1):
        for i in range(offsets[s], offsets[s + 1]):
            w = 4 - reduced[i]
            expected = sum(1 for j in range(offsets[s], offsets[s + 1]) if j != i and abs(j - i) <= w)
            assert got[i] == expected


def test_plan_schedule_and_subsampling():
    sentences = [["the"] * 50 + ["rare"]] * 40
    model = Word2Vec(vector_size=4, window=2, min_count=1, sample=1e-2, seed=0)
    model.build_vocab(sentences)
    # keep probability (sqrt(c/t) + 1) t/c with t = sample * N
    t = 1e-2 * 51 * 40
    c = 50 * 40
    assert model.keep_prob[model.vocab["the"]] == pytest.approx((np.sqrt(c / t) + 1) * t / c, rel=1e-6)
    assert model.keep_prob[model.vocab["rare"]] == 1.0
    ids, offsets = model.encode(sentences)
    plan = model.make_plan(ids, offsets, 0.025, 0.005)
    kept_the = np.mean(plan.ids == model.vocab["the"]) * plan.ids.size / (50 * 40)
    assert kept_the == pytest.approx(model.keep_prob[model.vocab["the"]], abs=0.05)
    assert (plan.ids == model.vocab["rare"]).sum() == 40
    assert np.all(np.diff(plan.alphas) <= 0) and plan.alphas[0] <= 0.025 and plan.alphas[-1] >= 0.005
    assert plan.reduced.min() >= 0 and plan.reduced.max() < 2
    assert 0 <= plan.negative_seed < 2**64
    assert plan.negative_seed != model.make_plan(ids, offsets, 0.025, 0.005).negative_seed


def test_negative_draws_follow_the_unigram_distribution():
    """The counter-based draws of the kernels: P(w) ~ count^0.75, independent of the seed's other draws."""
    counts = np.array([1000, 300, 100, 30, 10, 3, 1, 0, 50, 500])
    sampler = UnigramSampler(counts)
    draws = negative_draws(12345, 400_000, sampler.prob, sampler.alias)
    assert draws.dtype == np.int32 and draws.min() >= 0 and draws.max() < counts.size
    freq = np.bincount(draws, minlength=counts.size) / draws.size
    np.testing.assert_allclose(freq, sampler.probs, atol=3e-3)
    assert freq[7] == 0  # a word never seen is never drawn
    # draw k does not depend on how many draws are asked for; other seeds give other draws
    np.testing.assert_array_equal(negative_draws(12345, 1000, sampler.prob, sampler.alias), draws[:1000])
    assert np.mean(negative_draws(54321, 1000, sampler.prob, sampler.alias) != draws[:1000]) > 0.5


def test_kernel_draws_equal_numpy_draws():
    counts = np.arange(1, 200) ** 2
    sampler = UnigramSampler(counts)
    seed = 2**63 + 12345  # a seed above 2^63: the unsigned arithmetic must wrap the same way in both
    expected = negative_draws(seed, 5000, sampler.prob, sampler.alias)
    got = np.empty((1000, 5), np.int32)
    fill_negatives(np.uint64(seed), got, sampler.prob, sampler.alias)
    np.testing.assert_array_equal(got.reshape(-1), expected)


def test_workers_share_the_chunks_of_an_epoch(monkeypatch):
    """With ``workers`` > 1 the kernels of several chunks run at the same time (they release the GIL)."""
    import threading

    seen = set()
    original = Word2Vec.run_plan

    def record(self, plan, backend=None):
        seen.add(threading.get_ident())
        return original(self, plan, backend)

    monkeypatch.setattr(Word2Vec, "run_plan", record)
    Word2Vec(planted_corpus(2000), vector_size=8, min_count=1, epochs=2, workers=2, batch_words=500)
    assert len(seen) == 2 and threading.get_ident() not in seen
    with pytest.raises(ValueError, match="workers"):
        Word2Vec(workers=0)


def test_bad_input():
    with pytest.raises(ValueError, match="empty vocabulary"):
        Word2Vec([["a", "b"]], min_count=5)
    with pytest.raises(ValueError, match="no corpus"):
        Word2Vec().build_vocab()
    with pytest.raises(ValueError, match="empty"):
        Word2Vec([], min_count=1)
    with pytest.raises(ValueError, match="sg"):
        Word2Vec(sg=2)
    with pytest.raises(ValueError, match="not a string"):
        Word2Vec("just one string")
    model = Word2Vec(min_count=1)
    model.build_vocab([["a", "b"]])
    with pytest.raises(ValueError, match="empty corpus"):
        model.train([["c", "d"]])


def test_corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    sentences = small_corpus()
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n\n")
    a = Word2Vec(corpus_file=path, vector_size=8, min_count=1, epochs=1).wv
    b = Word2Vec(sentences, vector_size=8, min_count=1, epochs=1).wv
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_encode_drops_unknown_words_and_cuts_long_sentences():
    model = Word2Vec(vector_size=4, min_count=1)
    model.build_vocab([["a", "b"]])
    a, b = model.vocab["a"], model.vocab["b"]
    long = ["a"] * (MAX_WORDS_IN_SENTENCE + 5)
    ids, offsets = model.encode([["x", "a", "y", "b"], ["x", "y"], [], long, ["b"]])
    assert ids.tolist() == [a, b] + [a] * (MAX_WORDS_IN_SENTENCE + 5) + [b]
    # the sentence of unknown words and the empty one are gone; the long one is two pieces
    assert offsets.tolist() == [0, 2, 2 + MAX_WORDS_IN_SENTENCE, 2 + MAX_WORDS_IN_SENTENCE + 5,
                                3 + MAX_WORDS_IN_SENTENCE + 5]
    with pytest.raises(ValueError, match="no in-vocabulary words"):
        model.encode([["x"], ["y", "z"]])


def test_several_workers_get_small_chunks():
    model = Word2Vec(vector_size=4, min_count=1, workers=2, batch_words=200_000)
    offsets = np.arange(0, 1_000_001, 10)  # 100,000 sentences of 10 words
    assert len(model._chunks(offsets)) >= 16  # 8 per worker: the threads end an epoch together
    model.workers = 1
    assert len(model._chunks(offsets)) == 5
