"""word2vec / GloVe / fastText vector files: every kind gensim reads and writes, against gensim itself."""

import bz2
import gzip
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zeronlp.embeddings import KeyedVectors, load_vectors
from zeronlp.embeddings.w2v_format import detect_format
from zeronlp.errors import DataError, UsageError

gensim_models = pytest.importorskip("gensim.models")
GensimKV = gensim_models.KeyedVectors


def sample(n=40, dim=7, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n - 4)] + ["ça", "日本語", "naïve", "Ü"]
    return words, rng.normal(size=(n, dim)).astype(np.float32)


def gensim_kv(words, vectors):
    kv = GensimKV(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def same(ours: KeyedVectors, theirs) -> None:
    # gensim 4 keeps a None key and an unused row at the end for each repeated word it drops
    keys = [key for key in theirs.index_to_key if key is not None]
    assert ours.index_to_key == keys
    assert ours.vectors.dtype == theirs.vectors.dtype
    np.testing.assert_array_equal(ours.vectors, theirs.vectors[: len(keys)])


# ----------------------------------------------------------------- files gensim writes, read by both


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_gensim_files_read_the_same(tmp_path, binary, suffix):
    path = str(tmp_path / f"vectors{'.bin' if binary else '.txt'}{suffix}")
    gensim_kv(*sample()).save_word2vec_format(path, binary=binary)
    if suffix:
        magic = {".gz": b"\x1f\x8b", ".bz2": b"BZh"}[suffix]
        assert open(path, "rb").read(3).startswith(magic)
    theirs = GensimKV.load_word2vec_format(path, binary=binary)
    same(KeyedVectors.load_word2vec_format(path, binary=binary), theirs)
    same(load_vectors(path), theirs)  # binary or text detected from the first entry
    for limit in (1, 5, 39, 40, 1000):
        same(KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit),
             GensimKV.load_word2vec_format(path, binary=binary, limit=limit))


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compression_recognised_by_magic_bytes_not_name(tmp_path, compress):
    words, vectors = sample()
    plain = tmp_path / "plain.bin"
    gensim_kv(words, vectors).save_word2vec_format(str(plain), binary=True)
    disguised = tmp_path / "vectors.txt"  # a compressed binary file under a text file's name
    disguised.write_bytes(compress(plain.read_bytes()))
    same(KeyedVectors.load_word2vec_format(disguised, binary=True), GensimKV.load_word2vec_format(str(plain),
                                                                                                  binary=True))
    assert detect_format(disguised) == {"binary": True, "no_header": False}


def test_no_header_glove_file(tmp_path):
    words, vectors = sample()
    path = str(tmp_path / "glove.txt")
    gensim_kv(words, vectors).save_word2vec_format(path, write_header=False)
    assert not open(path, encoding="utf-8").readline().split(" ")[0].isdigit()
    theirs = GensimKV.load_word2vec_format(path, no_header=True)
    same(KeyedVectors.load_word2vec_format(path, no_header=True), theirs)
    same(load_vectors(path), theirs)  # detected: the first line is a word and numbers
    for limit in (1, 10, 40, 100):
        same(KeyedVectors.load_word2vec_format(path, no_header=True, limit=limit),
             GensimKV.load_word2vec_format(path, no_header=True, limit=limit))
    with pytest.raises(DataError, match="line 1: not a word-vector file.*no_header=True"):
        KeyedVectors.load_word2vec_format(path)


def _c_tool_file(tmp_path, binary):
    """Words cut inside a UTF-8 character, as the C tool writes them; cutting makes 'caf' appear twice."""
    words = [b"the", "caf\u00e9".encode()[:-1], b"caf", "日本".encode()[:-1], b"end"]
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(len(words), 4)).astype(np.float32)
    body = b"".join(
        (w + b" " + v.astype("<f4").tobytes() + b"\n") if binary else
        (w + b" " + " ".join(map(str, v)).encode() + b"\n")
        for w, v in zip(words, vectors)
    )
    path = tmp_path / ("c.bin" if binary else "c.vec")
    path.write_bytes(f"{len(words)} 4\n".encode() + body)
    return str(path)


@pytest.mark.parametrize("binary", [False, True])
def test_unicode_errors_like_gensim(tmp_path, binary):
    path = _c_tool_file(tmp_path, binary)
    with pytest.raises(UnicodeDecodeError):
        GensimKV.load_word2vec_format(path, binary=binary)
    with pytest.raises(DataError, match="invalid UTF-8.*unicode_errors='ignore'") as info:
        KeyedVectors.load_word2vec_format(path, binary=binary)
    if binary:
        assert "byte offset 28" in str(info.value)  # "5 4\\n" + "the " + 16 bytes + "\\n" + "caf"
    else:
        assert info.value.line == 3
    for errors in ("ignore", "replace"):
        for limit in (None, 2, 3):
            theirs = GensimKV.load_word2vec_format(path, binary=binary, unicode_errors=errors, limit=limit)
            ours = KeyedVectors.load_word2vec_format(path, binary=binary, unicode_errors=errors, limit=limit)
            same(ours, theirs)
    ignored = KeyedVectors.load_word2vec_format(path, binary=binary, unicode_errors="ignore")
    assert ignored.index_to_key == ["the", "caf", "日", "end"]  # the repeated 'caf' keeps its first vector


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("datatype", [np.float16, np.float64])
def test_datatype_like_gensim(tmp_path, binary, datatype):
    path = str(tmp_path / "v")
    gensim_kv(*sample()).save_word2vec_format(path, binary=binary)
    ours = KeyedVectors.load_word2vec_format(path, binary=binary, datatype=datatype)
    same(ours, GensimKV.load_word2vec_format(path, binary=binary, datatype=datatype))
    assert ours.most_similar("w1", topn=1)


# ---------------------------------------------------------------- files zeronlp writes, read by gensim


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("name", ["v.out", "v.out.gz", "v.out.bz2"])
def test_gensim_reads_what_we_write(tmp_path, binary, name):
    words, vectors = sample(dim=5)
    path = tmp_path / name
    KeyedVectors(words, vectors).save_word2vec_format(path, binary=binary)
    theirs = GensimKV.load_word2vec_format(str(path), binary=binary)
    assert list(theirs.index_to_key) == words
    np.testing.assert_array_equal(theirs.vectors, vectors)  # the text values round-trip float32 exactly
    same(KeyedVectors.load_word2vec_format(path, binary=binary), theirs)


def test_write_without_header_for_gensim(tmp_path):
    words, vectors = sample()
    path = tmp_path / "glove.txt"
    KeyedVectors(words, vectors).save_word2vec_format(path, write_header=False)
    same(KeyedVectors.load_word2vec_format(path, no_header=True),
         GensimKV.load_word2vec_format(str(path), no_header=True))


def test_unwritable_words(tmp_path):
    with pytest.raises(UsageError, match="'a b'"):
        KeyedVectors(["a b"], np.zeros((1, 2))).save_word2vec_format(tmp_path / "x.txt")
    assert not (tmp_path / "x.txt").exists()


# -------------------------------------------------------------------------------- malformed files


def test_arguments_checked(tmp_path):
    path = tmp_path / "v.txt"
    KeyedVectors(["a"], np.ones((1, 2))).save_word2vec_format(path)
    for kwargs, match in [({"limit": 0}, "limit"), ({"limit": -3}, "limit"), ({"unicode_errors": "bogus"}, "bogus"),
                          ({"binary": True, "no_header": True}, "no_header"), ({"datatype": np.int32}, "float"),
                          ({"encoding": "klingon"}, "klingon")]:
        with pytest.raises(UsageError, match=match):
            KeyedVectors.load_word2vec_format(path, **kwargs)


def test_non_regular_files_refused(tmp_path):
    with pytest.raises(DataError, match="not a regular file"):
        KeyedVectors.load_word2vec_format("/dev/zero", binary=True)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="fifo: is not a regular file"):  # would block if it were opened
        KeyedVectors.load_word2vec_format(fifo)
    with pytest.raises(DataError, match="no such file"):
        KeyedVectors.load_word2vec_format(tmp_path / "missing.bin")
    with pytest.raises(DataError, match="is a directory"):
        KeyedVectors.load_word2vec_format(tmp_path)


def test_malformed_compressed_and_binary_files(tmp_path):
    words, vectors = sample()
    good = tmp_path / "good.bin"
    KeyedVectors(words, vectors).save_word2vec_format(good, binary=True)
    data = good.read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(gzip.compress(data)[:-200])  # a truncated gzip stream
    with pytest.raises(DataError, match="bad.bin: .*gzip"):
        KeyedVectors.load_word2vec_format(bad, binary=True)
    bad.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(DataError, match="bad.bin: starts like a gzip file"):
        KeyedVectors.load_word2vec_format(bad, binary=True)
    bad.write_bytes(data[:-10])  # truncated inside the last vector
    with pytest.raises(DataError, match=r"ends inside entry 40 of 40 \(byte offset \d+\)"):
        KeyedVectors.load_word2vec_format(bad, binary=True)
    bad.write_bytes(data + b"extra")
    with pytest.raises(DataError, match=f"data after the 40 vectors.*byte offset {len(data)}"):
        KeyedVectors.load_word2vec_format(bad, binary=True)
    bad.write_bytes(gzip.compress(data[:-10]))
    with pytest.raises(DataError, match="byte offset .* of the decompressed data"):
        KeyedVectors.load_word2vec_format(bad, binary=True)
    nan = vectors.copy()
    nan[3, 1] = np.nan
    KeyedVectors(words, nan).save_word2vec_format(bad, binary=True)
    with pytest.raises(DataError, match="vector of 'w3' at byte offset .* non-finite"):
        KeyedVectors.load_word2vec_format(bad, binary=True)
    # the wrong mode: a text file read as binary, and a binary file read as text
    text = tmp_path / "v.txt"
    KeyedVectors(words, vectors).save_word2vec_format(text)
    with pytest.raises(DataError, match="v.txt: "):
        KeyedVectors.load_word2vec_format(text, binary=True)
    with pytest.raises(DataError, match="good.bin, line 2: "):
        KeyedVectors.load_word2vec_format(good)
    assert detect_format(text) == {"binary": False, "no_header": False}
    assert detect_format(good) == {"binary": True, "no_header": False}


def test_header_bound_before_allocation(tmp_path):
    path = tmp_path / "huge.bin"
    path.write_bytes(b"3000000 300\nthe " + np.zeros(300, "<f4").tobytes())
    with pytest.raises(DataError, match="huge.bin, line 1: header says 3000000 words of dimension 300, but the "
                                        "file has only 1216 bytes"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    first = KeyedVectors.load_word2vec_format(path, binary=True, limit=1)  # a cut-off download: its first words
    assert first.index_to_key == ["the"]
    path.write_bytes(gzip.compress(path.read_bytes()))  # compressed: found at the end of the data, not allocated
    with pytest.raises(DataError, match="ends inside entry 2 of 3000000"):
        KeyedVectors.load_word2vec_format(path, binary=True)


# -------------------------------------------------------------------- streaming: memory for `limit`

MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from zeronlp.embeddings import KeyedVectors

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    path, headroom = sys.argv[1], int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + headroom, resource.RLIM_INFINITY))
    kv = KeyedVectors.load_word2vec_format(path, binary=True, limit=2000)
    print("loaded", len(kv), kv.vector_size, float(kv.vectors[-1, 0]))
    try:
        data = open(path, "rb").read()
        print("whole file read", len(data))
    except MemoryError:
        print("whole file does not fit")
""")


@pytest.mark.parametrize("compressed", [False, True])
def test_limit_needs_memory_for_the_limit_only(tmp_path, compressed):
    """A 48 MB file (40,000 x 300) under an address-space limit of 24 MB more than the interpreter's:
    ``limit=2000`` loads; reading the whole file (what the old reader did) does not fit."""
    n, dim = 40_000, 300
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(n, dim)).astype("<f4")
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.write(f"{n} {dim}\n".encode())
        for start in range(0, n, 4000):
            f.write(b"".join(f"w{i} ".encode() + rows[i].tobytes() + b"\n" for i in range(start, start + 4000)))
    if compressed:
        with open(path, "rb") as src, gzip.open(tmp_path / "big.gz", "wb", compresslevel=1) as dst:
            while chunk := src.read(1 << 22):
                dst.write(chunk)
        os.replace(tmp_path / "big.gz", path)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), str(24 << 20)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == f"loaded 2000 {dim} {float(rows[1999, 0])}"
    if not compressed:
        assert lines[1] == "whole file does not fit"  # the bound is tight enough to mean something
