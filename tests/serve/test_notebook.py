"""Notebook displays: ``_repr_html_`` of Tensor, Module and KeyedVectors, ``zn.viz.graph`` drawn as SVG
(with Graphviz) or shown as DOT source (without), and attention weights as a matplotlib figure."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import nn
from zeronlp.embeddings import KeyedVectors
from zeronlp.errors import UnknownWordError, UsageError
from zeronlp.models.seq2seq_io import load_seq2seq, translate
from zeronlp.viz.attention import attention_figure
from zeronlp.viz.graph import DotGraph


def test_tensor_html_shows_shape_dtype_device_grad_creator():
    x = zn.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True, name="x<1>")
    leaf = x._repr_html_()
    for text in ("(2, 3)", "float32", "cpu", "None (a leaf)", "x&lt;1&gt;", "requires_grad"):
        assert text in leaf
    y = (x * x).sum()
    y.backward()
    assert "array (2, 3), norm" in x._repr_html_()
    assert y.creator is not None and type(y.creator).__name__ in y._repr_html_()
    big = zn.Tensor(np.zeros((100, 100), dtype=np.float32))._repr_html_()
    assert "..." in big and len(big) < 4000  # the values are abridged


def test_module_html_is_a_parameter_table():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    page = model._repr_html_()
    for name, param in model.named_parameters():
        assert f"<code>{name}</code>" in page and str(tuple(param.shape)) in page
    assert f"{model.num_parameters():,} parameters" in page and "<details>" in page
    model.eval()
    assert "(eval mode)" in model._repr_html_()


def test_keyed_vectors_html_has_size_and_a_neighbours_table():
    words = ["king", "queen", "man", "woman", "<b>"]
    vectors = KeyedVectors(words, np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    page = vectors._repr_html_()
    assert "5 words &times; 4" in page and "neighbours of <b>king</b>" in page and "&lt;b&gt;" in page
    table = vectors.show("queen", topn=3)
    assert len(table.neighbors) == 3 and "queen" not in [w for w, _ in table.neighbors]
    assert table._repr_html_().count("<tr>") == 4 and repr(table).startswith("neighbours of 'queen':")
    with pytest.raises(UnknownWordError):
        vectors.show("unicorn")


def _graph():
    x = zn.Tensor(np.ones(3, dtype=np.float32), requires_grad=True, name="x")
    return (x * x + x).sum()


def test_graph_is_still_its_dot_text_and_shows_the_source_without_graphviz(tmp_path, monkeypatch):
    y = _graph()
    drawn = zn.viz.graph(y)
    assert isinstance(drawn, DotGraph) and isinstance(drawn, str) and drawn == y.to_dot() and drawn.source == drawn
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    drawn = zn.viz.graph(y)
    assert drawn._repr_svg_() is None
    page = drawn._repr_html_()
    assert "apt-get install graphviz" in page and "<pre>digraph" in page and "-&gt;" in page


def test_graph_renders_svg_with_dot(tmp_path, monkeypatch):
    fake = tmp_path / "dot"  # stands in for Graphviz: answers -Tsvg with a fixed drawing
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho '<?xml version=\"1.0\"?>'\necho '<svg id=\"fake\"></svg>'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    drawn = zn.viz.graph(_graph())
    assert drawn._repr_svg_().startswith('<svg id="fake">')
    assert '<svg id="fake">' in drawn._repr_html_() and "<pre>" not in drawn._repr_html_()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_renders_svg_with_real_graphviz():
    assert "<svg" in zn.viz.graph(_graph())._repr_svg_()


def test_attention_figure_from_a_translation(runs):
    model, codec = load_seq2seq(runs["seq2seq"])
    result = translate(model, codec, "six one two")
    fig = attention_figure(result)
    (ax, *_) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == result.input_tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == result.output_tokens
    assert fig.get_suptitle() == result.answer
    heads = attention_figure(np.full((2, 3, 4), 0.25), list("abcd"), list("xyz"))
    assert len([a for a in heads.axes if a.get_title().startswith("head")]) == 2
    png = runs["seq2seq"] / "attention-notebook.png"
    heads.savefig(png)
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(UsageError, match="3 labels for 4 inputs"):
        attention_figure(np.ones((2, 4)), list("abc"))
    with pytest.raises(UsageError, match="no attention"):
        attention_figure(None)
