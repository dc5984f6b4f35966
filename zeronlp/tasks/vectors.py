"""NLP 100 Knocks ch. 7 (tasks 60-69) on any word-vector file, as library functions.

60 load the vectors (``load``: word2vec text/binary, with or without header, plain or compressed, a
``limit`` for the 3M-word GoogleNews file, or a ``zeronlp word2vec`` run); 61 ``similarity``;
62 ``most_similar``; 63 ``analogy``; 64 ``analogy_answers`` (every question of the analogy set
answered, written as ``analogies.txt``); 65 ``analogy_accuracy`` (semantic / syntactic);
66 ``word_pairs`` (Spearman correlation with WordSim-353's human scores); 67 ``kmeans`` of the
country vectors; 68 ``ward`` clustering with a dendrogram PNG; 69 ``tsne`` (and ``pca``) maps PNG;
``report`` runs them all into one directory.

Words typed by the user follow the one rule of :func:`~zeronlp.data.vocab.match_case`: as written,
else in lower case when only that form is known. k-means and t-SNE use scikit-learn (the
``[cluster]`` extra); Ward clustering and the dendrogram use SciPy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.files import dataset_path
from ..data.textfiles import read_lines
from ..data.vocab import match_case
from ..embeddings import KeyedVectors, load_vectors
from ..embeddings.evaluate import pca_2d
from ..errors import DataError, UnknownWordError, UsageError
from ..train import log, write_json
from ..viz.plots import plot_dendrogram, plot_word_map

RUN_VECTORS = "vectors.safetensors"  # what `zeronlp word2vec --out DIR` writes
COUNTRY_SECTIONS = {  # section of questions-words.txt -> the columns that hold country names
    "capital-common-countries": (1, 3),
    "capital-world": (1, 3),
    "currency": (0, 2),
    "gram6-nationality-adjective": (0, 2),
}
NLP100_WORDS = {"similarity": ("United_States", "U.S."), "similar": "United_States",
                "analogy": ("Madrid", "Spain", "Athens")}  # tasks 61-63 as the book of knocks asks them


# ------------------------------------------------------------------------------------ 60: loading


def load(vectors: str | os.PathLike, limit: int | None = None, unicode_errors: str = "strict",
         binary: bool | None = None, no_header: bool | None = None) -> KeyedVectors:
    """Task 60: vectors from a file (any word2vec/GloVe layout, plain or gzip/bz2/xz; binary and header
    detected unless given) or from a ``zeronlp word2vec`` run directory. ``limit``: the first N words."""
    path = Path(vectors)
    if path.is_dir():
        path = path / RUN_VECTORS
        if not path.is_file():
            raise DataError(f"no {RUN_VECTORS} in this directory; train some with `zeronlp word2vec --out DIR`",
                            vectors)
    return load_vectors(path, limit=limit, unicode_errors=unicode_errors, binary=binary, no_header=no_header)


def _word(wv: KeyedVectors, word: str) -> str:
    found = match_case(word, wv.key_to_index)
    if found not in wv.key_to_index:
        raise UnknownWordError(f"word {word!r} is not among the {len(wv)} words of these vectors")
    return found


# ------------------------------------------------------------------------------ 61-63: queries


def similarity(wv: KeyedVectors, word1: str, word2: str) -> float:
    """Task 61: cosine similarity of two words."""
    return wv.similarity(_word(wv, word1), _word(wv, word2))


def most_similar(wv: KeyedVectors, word: str, topn: int = 10) -> list[tuple[str, float]]:
    """Task 62: the ``topn`` words closest to ``word`` by cosine similarity."""
    return wv.most_similar(_word(wv, word), topn=topn)


def analogy(wv: KeyedVectors, a: str, b: str, c: str, topn: int = 10) -> list[tuple[str, float]]:
    """Task 63: ``a : b = c : ?`` -- the words closest to ``b - a + c`` (``analogy(wv, "Madrid", "Spain",
    "Athens")`` asks for vec(Spain) - vec(Madrid) + vec(Athens), Greece)."""
    return wv.most_similar(positive=[_word(wv, b), _word(wv, c)], negative=[_word(wv, a)], topn=topn)


# ------------------------------------------------------------------------- 64-65: the analogy set


def read_questions(path: str | os.PathLike | None = None) -> list[tuple[str, tuple[str, str, str, str]]]:
    """``(section, (a, b, c, d))`` for every question of an analogy file (``: section`` headers; default:
    the shipped ``questions-words.txt``)."""
    source = dataset_path("questions-words.txt") if path is None else path
    section, questions = None, []
    for number, line in enumerate(read_lines(source), start=1):
        if not line.strip():
            continue
        if line.startswith(":"):
            section = line.lstrip(": ").strip()
            continue
        words = line.split()
        if len(words) != 4:
            raise DataError(f"expected 4 words, got {len(words)}: {line[:60]!r}", source, number)
        if section is None:
            raise DataError("a question before the first ': section' line", source, number)
        questions.append((section, (words[0], words[1], words[2], words[3])))
    if not questions:
        raise DataError("has no questions", source)
    return questions


def analogy_answers(wv: KeyedVectors, questions: str | os.PathLike | None = None,
                    restrict_vocab: int | None = 300000, batch_size: int = 256) -> list[dict[str, Any]]:
    """Task 64: answer every question ``a b c d`` with the word closest to ``b - a + c`` (3CosAdd, the
    question words excluded, as :meth:`KeyedVectors.most_similar`) among the first ``restrict_vocab``
    words (gensim's default, 300,000; None: all). Rows: ``section, a, b, c, d, predicted, similarity``;
    ``predicted`` is None when a question word is not in the vectors."""
    n_cand = len(wv) if restrict_vocab is None else min(restrict_vocab, len(wv))
    if n_cand < 1:
        raise UsageError(f"restrict_vocab must be >= 1, got {restrict_vocab}")
    rows: list[dict[str, Any]] = []
    known: list[tuple[int, list[int]]] = []
    for section, words in read_questions(questions):
        row: dict[str, Any] = {"section": section, "a": words[0], "b": words[1], "c": words[2], "d": words[3],
                               "predicted": None, "similarity": None}
        rows.append(row)
        if all(w in wv.key_to_index for w in words[:3]):
            known.append((len(rows) - 1, [wv.key_to_index[w] for w in words[:3]]))
    unit = wv.unit_vectors.astype(np.float32, copy=False)
    candidates = unit[:n_cand]
    batch_size = max(1, min(batch_size, (1 << 25) // n_cand))  # at most 128 MB of scores a batch
    for start in range(0, len(known), batch_size):
        batch = known[start:start + batch_size]
        ids = np.array([q for _, q in batch], dtype=np.int64)  # a, b, c
        query = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]
        query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        scores = query @ candidates.T
        for col in range(3):
            inside = ids[:, col] < n_cand
            scores[np.flatnonzero(inside), ids[inside, col]] = -np.inf
        best = scores.argmax(axis=1)
        for (row_index, _), word_id, score in zip(batch, best, scores[np.arange(len(batch)), best]):
            rows[row_index]["predicted"] = wv.index_to_key[int(word_id)]
            rows[row_index]["similarity"] = float(score)
    return rows


def analogy_accuracy(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Task 65: accuracy on the semantic sections and on the syntactic ones (``gram*``), over the
    questions that could be answered; also the count of those left out for unknown words."""
    result: dict[str, Any] = {}
    for kind, rows in (("semantic", [r for r in answers if not r["section"].startswith("gram")]),
                       ("syntactic", [r for r in answers if r["section"].startswith("gram")]),
                       ("total", list(answers))):
        answered = [r for r in rows if r["predicted"] is not None]
        correct = sum(r["predicted"] == r["d"] for r in answered)
        result[kind] = {"accuracy": correct / len(answered) if answered else float("nan"), "correct": correct,
                        "answered": len(answered), "questions": len(rows)}
    return result


def write_answers(answers: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """``analogies.txt``: the analogy file with the predicted word and its similarity after each question
    (NLP 100 task 64's output); unanswerable questions get ``- -``."""
    lines, section = [], None
    for row in answers:
        if row["section"] != section:
            section = row["section"]
            lines.append(f": {section}")
        answer = "- -" if row["predicted"] is None else f"{row['predicted']} {row['similarity']:.6f}"
        lines.append(f"{row['a']} {row['b']} {row['c']} {row['d']} {answer}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------ 66: word similarity


def word_pairs(wv: KeyedVectors, pairs: str | os.PathLike | None = None) -> dict[str, Any]:
    """Task 66: Spearman (and Pearson) correlation of cosine similarity with human scores.

    ``pairs``: lines ``word1 word2 score`` separated by tabs or commas (WordSim-353's ``combined.csv``
    or ``.tab``, SimLex); a first line whose score is not a number is a header; default: the shipped
    WordSim-353. Pairs with a word not in the vectors are left out and counted.
    """
    from scipy import stats

    source = dataset_path("wordsim353.tsv") if pairs is None else pairs
    human, model, missing, header_seen = [], [], 0, False
    for number, line in enumerate(read_lines(source), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split(","))]
        if len(fields) < 3:
            raise DataError(f"expected 'word1<TAB>word2<TAB>score' (or commas), got {line[:60]!r}", source, number)
        try:
            score = float(fields[2])
        except ValueError:
            if header_seen or human or missing:
                raise DataError(f"score {fields[2]!r} is not a number", source, number) from None
            header_seen = True
            continue
        a, b = match_case(fields[0], wv.key_to_index), match_case(fields[1], wv.key_to_index)
        if a not in wv.key_to_index or b not in wv.key_to_index:
            missing += 1
            continue
        human.append(score)
        model.append(wv.similarity(a, b))
    if len(human) < 2:
        raise DataError(f"fewer than 2 pairs with both words in the vectors ({missing} left out)", source)
    return {"spearman": float(stats.spearmanr(human, model)[0]), "pearson": float(stats.pearsonr(human, model)[0]),
            "pairs": len(human), "missing_pairs": missing}


# -------------------------------------------------------------------- 67-69: clusters and maps


def country_words(wv: KeyedVectors, questions: str | os.PathLike | None = None) -> list[str]:
    """The country names of the analogy set (capital, currency and nationality sections) found in the
    vectors, in order of first appearance -- the words NLP 100 tasks 67-69 cluster."""
    found: dict[str, None] = {}
    for section, words in read_questions(questions):
        for column in COUNTRY_SECTIONS.get(section, ()):
            word = match_case(words[column], wv.key_to_index)
            if word in wv.key_to_index:
                found.setdefault(word)
    return list(found)


def _words_and_vectors(wv: KeyedVectors, words: Sequence[str] | None, least: int) -> tuple[list[str], np.ndarray]:
    if words is None:
        words = country_words(wv)
        what = "country names of the analogy set"
    else:
        what = "given words"
    known = list(dict.fromkeys(match_case(w, wv.key_to_index) for w in words))
    known = [w for w in known if w in wv.key_to_index]
    if len(known) < least:
        raise UsageError(f"only {len(known)} of the {what} are in the vectors; need at least {least}")
    return known, wv[known].astype(np.float64)


def _sklearn(name: str) -> Any:
    try:
        import sklearn.cluster
        import sklearn.manifold
    except ImportError:
        raise UsageError(f"{name} needs scikit-learn: pip install 'zeronlp[cluster]'") from None
    return sklearn


def kmeans(wv: KeyedVectors, words: Sequence[str] | None = None, k: int = 5, seed: int = 0) -> dict[str, Any]:
    """Task 67: k-means (scikit-learn, 10 restarts) of the words' vectors (default: the countries).
    Returns ``{"words", "labels", "clusters": [[word, ...], ...]}``."""
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    sklearn = _sklearn("k-means")
    known, x = _words_and_vectors(wv, words, least=k)
    labels = sklearn.cluster.KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    clusters = [[w for w, label in zip(known, labels) if label == c] for c in range(k)]
    return {"words": known, "labels": [int(v) for v in labels], "clusters": clusters}


def ward(wv: KeyedVectors, words: Sequence[str] | None = None, path: str | os.PathLike | None = None
         ) -> dict[str, Any]:
    """Task 68: Ward hierarchical clustering (SciPy ``linkage``) of the words' vectors, and its dendrogram
    as a PNG at ``path``. Returns ``{"words", "linkage", "path"}``."""
    from scipy.cluster.hierarchy import linkage

    known, x = _words_and_vectors(wv, words, least=2)
    matrix = linkage(x, method="ward")
    if path is not None:
        plot_dendrogram(matrix, known, path, title=f"Ward clustering of {len(known)} word vectors")
    return {"words": known, "linkage": matrix, "path": path}


def tsne(wv: KeyedVectors, words: Sequence[str] | None = None, path: str | os.PathLike | None = None,
         seed: int = 0, perplexity: float = 30.0, groups: Sequence[int] | None = None) -> dict[str, Any]:
    """Task 69: a t-SNE map (scikit-learn) of the words' vectors, drawn to ``path`` coloured by
    ``groups`` (e.g. k-means labels). ``perplexity`` is lowered to fit a few words. Returns
    ``{"words", "points", "path"}``."""
    sklearn = _sklearn("t-SNE")
    known, x = _words_and_vectors(wv, words, least=3)
    perplexity = min(perplexity, (len(known) - 1) / 3)
    points = sklearn.manifold.TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed
                                   ).fit_transform(x)
    if path is not None:
        plot_word_map(points, known, path, groups=groups, title=f"t-SNE of {len(known)} word vectors")
    return {"words": known, "points": points, "path": path}


def pca(wv: KeyedVectors, words: Sequence[str] | None = None, path: str | os.PathLike | None = None,
        groups: Sequence[int] | None = None) -> dict[str, Any]:
    """The words' vectors on their first two principal components (task 69's linear alternative)."""
    known, x = _words_and_vectors(wv, words, least=3)
    points = pca_2d(x.astype(np.float32))
    if path is not None:
        plot_word_map(points, known, path, groups=groups, title=f"PCA of {len(known)} word vectors",
                      xlabel="1st principal component", ylabel="2nd principal component")
    return {"words": known, "points": points, "path": path}


# --------------------------------------------------------------------------------- all of ch. 7


def report(vectors: str | os.PathLike, out_dir: str | os.PathLike = "runs/vectors", limit: int | None = None,
           unicode_errors: str = "strict", questions: str | os.PathLike | None = None,
           pairs: str | os.PathLike | None = None, words: Sequence[str] | None = None, k: int = 5,
           restrict_vocab: int | None = 300000, seed: int = 0, quiet: bool = False) -> dict[str, Any]:
    """Tasks 60-69 in one run: ``out_dir/report.json`` (every answer), ``analogies.txt``,
    ``dendrogram.png``, ``tsne.png``, ``pca.png``. A query whose words are not in the vectors is
    reported as such instead of stopping the run. Returns the report dict."""
    out = Path(out_dir)
    started = time.perf_counter()
    wv = load(vectors, limit=limit, unicode_errors=unicode_errors)
    log(f"60: loaded {len(wv)} words x {wv.vector_size} from {vectors} in {time.perf_counter() - started:.1f} s",
        quiet)
    result: dict[str, Any] = {"vectors": os.fspath(vectors), "words": len(wv), "vector_size": wv.vector_size,
                              "limit": limit}

    def attempt(key: str, compute: Any) -> None:
        try:
            result[key] = compute()
        except (UnknownWordError, UsageError, DataError) as err:  # e.g. too few known words for this step
            result[key] = {"error": str(err)}
            log(f"{key}: skipped ({err})", quiet)

    a, b = NLP100_WORDS["similarity"]
    attempt("61_similarity", lambda: {"words": [a, b], "cosine": similarity(wv, a, b)})
    attempt("62_most_similar", lambda: {"word": NLP100_WORDS["similar"],
                                        "top": most_similar(wv, NLP100_WORDS["similar"], topn=10)})
    attempt("63_analogy", lambda: {"words": list(NLP100_WORDS["analogy"]),
                                   "top": analogy(wv, *NLP100_WORDS["analogy"], topn=10)})
    answers = analogy_answers(wv, questions, restrict_vocab=restrict_vocab)
    result["64_analogies_file"] = os.fspath(write_answers(answers, out / "analogies.txt"))
    result["65_analogy_accuracy"] = analogy_accuracy(answers)
    attempt("66_wordsim353", lambda: word_pairs(wv, pairs))
    clusters = None

    def clustering() -> dict[str, Any]:
        nonlocal clusters
        clusters = kmeans(wv, words, k=k, seed=seed)
        return {"k": k, "clusters": clusters["clusters"]}

    attempt("67_kmeans", clustering)
    groups = clusters["labels"] if clusters else None
    attempt("68_ward", lambda: {"png": os.fspath(ward(wv, words, out / "dendrogram.png")["path"])})
    attempt("69_tsne", lambda: {"png": os.fspath(tsne(wv, words, out / "tsne.png", seed=seed, groups=groups)["path"])})
    attempt("69_pca", lambda: {"png": os.fspath(pca(wv, words, out / "pca.png", groups=groups)["path"])})
    write_json(out / "report.json", result)
    return result
