import numpy as np
import pytest

from zeronlp.embeddings import KeyedVectors, load_vectors


def toy() -> KeyedVectors:
    """Vectors with a planted analogy: king - man + woman = queen, cat ~ kitten."""
    words = ["man", "woman", "king", "queen", "cat", "kitten", "car", "King"]
    rng = np.random.default_rng(0)
    gender, royal = rng.normal(size=8), rng.normal(size=8)
    base = rng.normal(size=8)
    vecs = {
        "man": base,
        "woman": base + gender,
        "king": base + royal,
        "queen": base + royal + gender,
        "cat": rng.normal(size=8),
    }
    vecs["kitten"] = vecs["cat"] + 0.1 * rng.normal(size=8)
    vecs["car"] = rng.normal(size=8)
    vecs["King"] = rng.normal(size=8)
    return KeyedVectors(words, np.stack([vecs[w] for w in words]).astype(np.float32))


def test_lookup_and_similarity():
    kv = toy()
    assert kv["cat"].shape == (8,) and kv[["cat", "car"]].shape == (2, 8)
    assert "cat" in kv and "dog" not in kv
    assert kv.similarity("cat", "kitten") > 0.9
    assert kv.similarity("cat", "cat") == pytest.approx(1.0, abs=1e-6)
    assert kv.most_similar("cat", topn=1)[0][0] == "kitten"
    top = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert top[0][0] == "queen"
    assert {w for w, _ in top}.isdisjoint({"king", "woman", "man"})
    assert kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    scores = [s for _, s in kv.most_similar("car", topn=7)]
    assert scores == sorted(scores, reverse=True)


def test_unknown_word_names_it():
    kv = toy()
    with pytest.raises(KeyError, match="'dog'"):
        kv["dog"]
    with pytest.raises(KeyError, match="'dog'"):
        kv.most_similar(positive=["dog"])
    with pytest.raises(KeyError, match="'unicorn'"):
        kv.similarity("cat", "unicorn")


def write_questions(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(
        ": royal\nman king woman queen\nMAN KING WOMAN QUEEN\nman king woman car\n"
        ": other\nman woman king queen\ncat kitten dog puppy\n"
    )
    return path


def test_evaluate_word_analogies(tmp_path):
    kv = toy()
    accuracy, sections = kv.evaluate_word_analogies(write_questions(tmp_path))
    names = [s["section"] for s in sections]
    assert names == ["royal", "other", "Total accuracy"]
    assert len(sections[0]["correct"]) == 2 and len(sections[0]["incorrect"]) == 1
    assert len(sections[1]["correct"]) == 1  # dog/puppy unknown: skipped
    assert accuracy == pytest.approx(3 / 4)
    accuracy_dummy, _ = kv.evaluate_word_analogies(write_questions(tmp_path), dummy4unknown=True)
    assert accuracy_dummy == pytest.approx(3 / 5)
    # restricted to the first 3 words, no question is fully known
    assert kv.evaluate_word_analogies(write_questions(tmp_path), restrict_vocab=3)[0] == 0.0


def test_evaluate_against_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(1)
    words = [
        "man",
        "woman",
        "king",
        "queen",
        "boy",
        "girl",
        "prince",
        "princess",
        "he",
        "she",
        "Paris",
        "paris",
        "france",
        "berlin",
        "germany",
    ] + [f"w{i}" for i in range(40)]
    vectors = rng.normal(size=(len(words), 6)).astype(np.float32)
    ours = KeyedVectors(words, vectors)
    theirs = gensim_models.KeyedVectors(6)
    theirs.add_vectors(words, vectors)
    q = tmp_path / "q.txt"
    lines = [": a"] + [" ".join(rng.choice(words[:15], 4, replace=False)) for _ in range(60)]
    lines += [": b", "man king woman queen", "paris france berlin germany"]
    q.write_text("\n".join(lines) + "\n")
    for restrict in (300000, 12):
        acc_ours, sec_ours = ours.evaluate_word_analogies(q, restrict_vocab=restrict)
        acc_theirs, sec_theirs = theirs.evaluate_word_analogies(str(q), restrict_vocab=restrict)
        assert acc_ours == pytest.approx(acc_theirs)
        for a, b in zip(sec_ours, sec_theirs):
            assert [tuple(x) for x in a["correct"]] == [tuple(x) for x in b["correct"]]
            assert len(a["incorrect"]) == len(b["incorrect"])
    pairs = tmp_path / "pairs.tsv"
    body = "\n".join(f"{rng.choice(words)}\t{rng.choice(words)}\t{rng.uniform(0, 10):.2f}" for _ in range(30))
    pairs.write_text("# comment\n" + body + "\nman\tunicorn\t3.0\n")
    p1, s1, oov1 = ours.evaluate_word_pairs(pairs)
    p2, s2, oov2 = theirs.evaluate_word_pairs(str(pairs))
    assert p1[0] == pytest.approx(p2[0], abs=1e-5) and s1[0] == pytest.approx(s2[0], abs=1e-5)
    assert oov1 == pytest.approx(oov2)
    top_ours = ours.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    top_theirs = theirs.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [w for w, _ in top_ours] == [w for w, _ in top_theirs]
    np.testing.assert_allclose([s for _, s in top_ours], [s for _, s in top_theirs], atol=1e-5)
    cm_ours = ours.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    cm_theirs = theirs.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    assert [w for w, _ in cm_ours] == [w for w, _ in cm_theirs]


def test_evaluate_word_pairs_default_file():
    kv = KeyedVectors(["love", "sex", "tiger", "cat"], np.eye(4, dtype=np.float32) + 0.1)
    pearson, spearman, oov = kv.evaluate_word_pairs()
    assert 99 < oov < 100
    assert -1 <= spearman[0] <= 1


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_roundtrip(tmp_path, binary):
    kv = toy()
    kv.index_to_key[4] = "ça"  # non-ASCII survives
    kv = KeyedVectors(kv.index_to_key, kv.vectors)
    path = tmp_path / ("v.bin" if binary else "v.txt")
    kv.save_word2vec_format(path, binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)  # repr(float32) round-trips exactly
    assert load_vectors(path).index_to_key == kv.index_to_key


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_ours_and_we_read_gensims(tmp_path, binary):
    gensim_models = pytest.importorskip("gensim.models")
    kv = toy()
    ours = tmp_path / "ours"
    kv.save_word2vec_format(ours, binary=binary)
    g = gensim_models.KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert list(g.index_to_key) == kv.index_to_key
    np.testing.assert_array_equal(g.vectors, kv.vectors)
    theirs = tmp_path / "theirs"
    g.save_word2vec_format(str(theirs), binary=binary)
    back = KeyedVectors.load_word2vec_format(theirs, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"two 3\na 1 2 3\n", "line 1: not a word-vector file"),
        (b"2 3\na 1 2 3\nb 1 2\n", "line 3: expected a word and 3 numbers"),
        (b"2 3\na 1 2 3\nb 1 x 3\n", "line 3: .*not a number"),
        (b"2 3\na 1 2 3\n\xff\xfe 1 2 3\n", "line 3: invalid UTF-8"),
        (b"3 1\na 1\nb 2\n", "line 4: header says 3 words but the file ends after 2"),
        (b"3 3\na 1 2 3\nb 1 2 3\n", "line 1: header says 3 words of dimension 3, but the file has only 20 bytes"),
        (b"1000000000 300\na 1\n", "line 1: header says 1000000000 words"),
        (b"1 2\na 1 2\nb 3 4\n", "line 3: more lines than the 1 words"),
        (b"1 2\na 1 nan\n", "line 2: vector of 'a' has a non-finite value"),
        (b"", "line 1"),
    ],
)
def test_malformed_text_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        KeyedVectors.load_word2vec_format(path)
    assert "bad.txt" in str(info.value)


def test_malformed_binary_files(tmp_path):
    path = tmp_path / "bad.bin"
    good = np.arange(3, dtype="<f4").tobytes()
    path.write_bytes(b"2 3\na " + good + b"\nb " + good[:8])
    with pytest.raises(ValueError, match="bad.bin: the file ends inside entry 2 of 2 .byte offset 19"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    path.write_bytes(b"1 3\n\xff " + good)
    with pytest.raises(ValueError, match="invalid UTF-8 in the word of entry 1 .*byte offset 4"):
        KeyedVectors.load_word2vec_format(path, binary=True)


def test_safetensors_save_load(tmp_path):
    kv = KeyedVectors(["a", "é", "c"], np.arange(6, dtype=np.float32).reshape(3, 2), counts=[5, 3, 1])
    path = tmp_path / "v.safetensors"
    kv.save(path)
    back = KeyedVectors.load(path)
    assert back.index_to_key == kv.index_to_key and back.counts == [5, 3, 1]
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert load_vectors(path).index_to_key == kv.index_to_key
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="v.safetensors"):
        KeyedVectors.load(path)
