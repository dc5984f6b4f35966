"""``zeronlp serve``'s JSON API through Starlette's in-process test client: every kind of run,
bad inputs (4xx with a JSON error, never a traceback), limits, and the ``serve`` command itself."""

from __future__ import annotations

import math
import sys
import warnings

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install 'zeronlp[serve]'")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import zeronlp.serve as serving  # noqa: E402
from zeronlp.cli import main  # noqa: E402
from zeronlp.errors import CheckpointError, UsageError  # noqa: E402
from zeronlp.serve import create_app, detect_kind, load_runs  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


@pytest.fixture(scope="module")
def loaded(runs):
    return load_runs([f"{kind}={path}" for kind, path in runs.items()])


@pytest.fixture(scope="module")
def client(loaded):
    # the test client sends "Host: testserver"; a real server accepts loopback names only (tested below)
    return TestClient(create_app(loaded, allowed_hosts=("testserver",)), raise_server_exceptions=False)


def post(client, path, body):
    return client.post(f"/api/runs/{path}", json=body)


def test_kinds_are_detected_from_what_the_run_holds(runs):
    for kind, path in runs.items():
        assert detect_kind(path) == kind
    assert detect_kind(runs["vectors"] / "vectors.txt") == "vectors"
    assert detect_kind(runs["lm"] / "checkpoint.safetensors") == "lm"


def test_runs_are_listed_and_described(client, runs):
    listed = client.get("/api/runs").json()["runs"]
    assert [(r["name"], r["kind"]) for r in listed] == [(kind, kind) for kind in runs]
    lm = client.get("/api/runs/lm").json()
    assert lm["actions"] == ["next", "generate"] and lm["vocab_size"] == 15 and lm["folder"] == "lm"
    assert lm["final"]["best_valid_perplexity"] < 3 and lm["config"]["bptt"] == 6  # from metrics.json
    assert sorted(client.get("/api/runs/classifier").json()["labels"]) == ["neg", "pos"]
    assert client.get("/api/runs/vectors").json()["vector_size"] == 8


def test_language_model_next_words_and_generation(client):
    answer = post(client, "lm/next", {"text": "you say goodbye and i say", "k": 3}).json()
    assert answer["context"] == ["you", "say", "goodbye", "and", "i", "say"] and answer["unknown"] == []
    assert len(answer["next"]) == 3 and answer["next"][0]["word"] == "hello" and answer["next"][0]["p"] > 0.5
    assert all(a["p"] >= b["p"] for a, b in zip(answer["next"], answer["next"][1:]))
    # words outside the vocabulary are read as <unk> and reported
    assert post(client, "lm/next", {"text": "the zebra"}).json()["unknown"] == ["zebra"]
    # GET with query fields works for scripts too
    assert client.get("/api/runs/lm/next", params={"text": "the cat", "k": "2"}).json()["next"][0]["word"] == "eats"

    sample = {"text": "the", "length": 12, "temperature": 1.5, "seed": 7}
    first, again = (post(client, "lm/generate", sample).json() for _ in range(2))
    assert first["mode"] == "sample" and first["text"] == again["text"] and len(first["text"].split()) >= 8
    others = {post(client, "lm/generate", {**sample, "seed": seed}).json()["text"] for seed in range(6)}
    assert len(others) > 1  # the seed matters
    top1 = post(client, "lm/generate", {"text": "the cat", "length": 3, "top_k": 1}).json()["text"]
    assert top1 == "eats fish ." or top1 == "eats meat ."
    beams = post(client, "lm/generate", {"text": "the cat", "length": 3, "beam": 3}).json()
    assert beams["mode"] == "beam" and len(beams["beams"]) == 3 and beams["text"] == beams["beams"][0]["text"]
    assert [b["logp"] for b in beams["beams"]] == sorted((b["logp"] for b in beams["beams"]), reverse=True)
    # one step of beam search is the most probable next words (the words generation skips left out)
    one = post(client, "lm/generate", {"text": "you say goodbye and i say", "length": 1, "beam": 4}).json()
    top = [n for n in post(client, "lm/next", {"text": "you say goodbye and i say", "k": 15}).json()["next"]
           if n["word"] not in ("<unk>", "N", "$")]
    assert [b["text"] for b in one["beams"]] == [n["word"].replace("<eos>", "") for n in top[:4]]
    assert one["beams"][0]["logp"] == pytest.approx(math.log(top[0]["p"]), abs=1e-3)


def test_seq2seq_answer_and_attention(client):
    answer = post(client, "seq2seq/translate", {"text": "six one two"}).json()
    assert answer["answer"] == "seis uno dos"
    (weights,) = answer["heads"]  # one attention head
    assert len(weights) == len(answer["output_tokens"]) and len(weights[0]) == len(answer["input_tokens"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in weights)
    assert post(client, "seq2seq/translate", {"text": "six one", "beam": 3}).json()["answer"] == "seis uno"
    bad = post(client, "seq2seq/translate", {"text": "one seven"})
    assert bad.status_code == 400 or bad.json()["answer"]  # word level: an unknown word is <unk> or an error


def test_classifier_gives_every_class_probability(client):
    answer = post(client, "classifier/classify", {"text": "a wonderful film , loved it"}).json()
    assert answer["label"] == "pos"
    assert {c["label"] for c in answer["probabilities"]} == {"pos", "neg"}
    assert abs(sum(c["p"] for c in answer["probabilities"]) - 1) < 1e-4
    assert post(client, "classifier/classify", {"text": "awful , boring plot"}).json()["label"] == "neg"


def test_word_vectors_neighbours_analogy_map(client):
    near = post(client, "vectors/neighbors", {"word": "cat", "k": 4}).json()
    assert len(near["neighbors"]) == 4 and "cat" not in [n["word"] for n in near["neighbors"]]
    assert post(client, "vectors/neighbors", {"word": "Cat"}).json()["word"] == "cat"  # case folded like the CLI
    analogy = post(client, "vectors/analogy", {"a": "cat", "b": "fish", "c": "meat", "k": 3}).json()
    assert analogy["query"] == ["cat", "fish", "meat"] and len(analogy["answers"]) == 3
    drawn = post(client, "vectors/map", {"words": "you i cat dog say unicorn"}).json()
    assert [p["word"] for p in drawn["points"]] == ["you", "i", "cat", "dog", "say"]
    assert drawn["missing"] == ["unicorn"] and len(drawn["variance"]) == 2
    assert post(client, "vectors/map", {"words": ["cat", "dog", "say"]}).status_code == 200


@pytest.mark.parametrize("path, body, status, message", [
    ("lm/next", {}, 400, "missing field 'text'"),
    ("lm/next", {"text": "   "}, 400, "is empty"),
    ("lm/next", {"text": 5}, 400, "must be a string"),
    ("lm/next", {"text": "the", "k": 0}, 400, "between 1 and 100"),
    ("lm/next", {"text": "the", "k": "many"}, 400, "must be an integer"),
    ("lm/next", {"text": "the " * 300}, 400, "too long"),
    ("lm/generate", {"text": "the", "temperature": "nan"}, 400, "between"),
    ("lm/generate", {"text": "the", "length": 10_000}, 400, "between 1 and 100"),
    ("lm/generate", {"text": "the", "beam": 11}, 400, "between 1 and 10"),
    ("seq2seq/translate", {"text": "one two three four five six one two"}, 400, ""),
    ("vectors/neighbors", {"word": "unicorn"}, 400, "'unicorn' not in vocabulary"),
    ("vectors/analogy", {"a": "cat", "b": "dog"}, 400, "missing field 'c'"),
    ("vectors/map", {"words": "cat unicorn"}, 400, "at least 3 known words"),
    ("vectors/map", {"words": " ".join(f"w{i}" for i in range(60))}, 400, "at most 40"),
    ("vectors/map", {"words": 3}, 400, "list of words"),
    ("nope/next", {"text": "a"}, 404, "no run named 'nope'"),
    ("lm/translate", {"text": "a"}, 404, "has no action 'translate'"),
])
def test_bad_requests_get_a_json_error(client, path, body, status, message):
    response = post(client, path, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]
    assert "Traceback" not in response.text


def test_bodies_are_checked_and_capped(client):
    url = "/api/runs/lm/next"
    too_big = client.post(url, content=b'{"text": "' + b"a" * (serving.MAX_BODY + 1) + b'"}',
                          headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and "larger than" in too_big.json()["error"]
    # a body streamed without Content-Length is cut off at the limit as well
    chunks = (b"x" * 4096 for _ in range(serving.MAX_BODY // 4096 + 2))
    streamed = client.post(url, content=chunks, headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.post(url, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(url, content=b'["the"]', headers={"content-type": "application/json"}).status_code == 400
    assert client.post(url, content=b"text=the", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post(url, content=b"[" * 100_00 + b"]" * 100_00,
                       headers={"content-type": "application/json"}).status_code in (400, 413)


def test_pages_static_files_and_unknown_paths(client):
    page = client.get("/runs/lm")
    assert page.status_code == 200 and '<script src="/static/app.js"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    # the page uses nothing from the network: no http(s) URL in what it loads
    for name in ("app.js", "style.css"):
        response = client.get(f"/static/{name}")
        text = response.text.replace('"http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
        assert response.status_code == 200 and "http://" not in text and "https://" not in text
    assert "https://" not in page.text and "http://" not in page.text
    for path in ("/static/..%2F..%2Fpyproject.toml", "/static/../app.py", "/static/runs.py", "/nothing",
                 "/runs/unknown", "/api/runs/unknown"):
        response = client.get(path)
        assert response.status_code == 404 and "error" in response.json(), path
    assert client.delete("/api/runs/lm/next").status_code == 405


def test_a_crash_is_a_500_json_without_traceback(loaded, monkeypatch):
    def broken(params):
        raise RuntimeError("secret internal detail")

    app = create_app(loaded, allowed_hosts=("testserver",))
    monkeypatch.setattr(loaded["lm"], "next", broken)
    response = TestClient(app, raise_server_exceptions=False).post("/api/runs/lm/next", json={"text": "the"})
    assert response.status_code == 500 and response.json()["error"].startswith("internal error (RuntimeError)")
    assert "secret" not in response.text and "Traceback" not in response.text


def test_only_loopback_host_names_by_default(loaded):
    app = create_app(loaded)  # the default: a server bound to 127.0.0.1
    for host, status in (("127.0.0.1:8000", 200), ("localhost:8000", 200), ("[::1]:8000", 200),
                         ("evil.example:8000", 400), ("testserver", 400)):
        client = TestClient(app, base_url=f"http://{host}")
        assert client.get("/api/runs").status_code == status, host
    assert serving.allowed_hosts("0.0.0.0") is None and "192.168.1.5" in serving.allowed_hosts("192.168.1.5")


def test_load_runs_names_and_errors(runs, tmp_path):
    loaded = load_runs([str(runs["lm"]), str(runs["lm"]), f"mine={runs['vectors']}"])
    assert list(loaded) == ["lm", "lm-2", "mine"]
    with pytest.raises(UsageError, match="at least one run"):
        load_runs([])
    with pytest.raises(CheckpointError, match="no such run"):
        load_runs([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_runs([str(tmp_path / "empty")])


def test_serve_command_binds_loopback_and_lists_the_pages(runs, monkeypatch, capsys):
    started = {}

    def fake_run(server):
        started["config"] = server.config

    monkeypatch.setattr("uvicorn.Server.run", fake_run)
    assert main(["serve", "--run", str(runs["lm"]), "--run", f"words={runs['vectors']}", "--port", "8123"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/runs/lm" in out and "http://127.0.0.1:8123/runs/words" in out
    assert started["config"].host == "127.0.0.1" and started["config"].port == 8123
    assert main(["serve", "--run", str(runs["lm"] / "nothing")]) == 2
    assert "no such run" in capsys.readouterr().err


def test_missing_extra_names_the_install_command(loaded, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    with pytest.raises(UsageError, match=r"pip install 'zeronlp\[serve\]'"):
        create_app(loaded)
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(UsageError, match=r"pip install 'zeronlp\[serve\]'"):
        serving.make_server(loaded)
