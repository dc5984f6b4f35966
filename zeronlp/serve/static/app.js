// zeronlp serve: the page. It asks the JSON API under /api and draws what comes back (no libraries,
// nothing from the network). One function per kind of run: lm, seq2seq, classifier, vectors.
"use strict";

const main = document.getElementById("main");

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

async function api(path, body = null) {
  const options = body === null ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch("/api/" + path, options);
  let data;
  try { data = await response.json(); } catch (err) { data = {error: `HTTP ${response.status}`}; }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function field(label, input, wide = false) {
  return el("label", {class: wide ? "wide" : ""}, label, input);
}

function numberInput(id, value, min, max, step = "1") {
  return el("input", {id, type: "number", value: String(value), min: String(min), max: String(max), step});
}

// replaceChildren without the null/undefined parts (optional notes)
function show(box, ...children) {
  box.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

function showError(box, err) {
  box.replaceChildren(el("div", {class: "error", role: "alert", text: err.message}));
}

// A form whose submit (and, with live, whose typing) calls run(box); errors land in the box.
function panel(title, inputs, buttonText, run, {live = null, note = null, id = null} = {}) {
  const box = el("div", {class: "result"});
  const go = async () => {
    try { await run(box); } catch (err) { showError(box, err); }
  };
  const form = el("form", {onsubmit: (event) => { event.preventDefault(); go(); }},
    ...inputs, el("button", id ? {type: "submit", id, text: buttonText} : {type: "submit", text: buttonText}));
  if (live) {
    let timer = null;
    live.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(go, 250); });
  }
  return {node: el("section", {class: "panel"}, el("h2", {text: title}),
    note ? el("p", {class: "note", text: note}) : null, form, box), go};
}

function bars(rows, {id, format = (v) => v.toFixed(3), max = null, query = ""} = {}) {
  const top = max ?? Math.max(...rows.map((r) => r.value), 1e-12);
  const grid = el("div", {class: "bars", id, role: "list"});
  grid.dataset.query = query;  // what the bars answer (the page's tests wait for it)
  rows.forEach((row, i) => {
    const fill = el("div", {class: "bar-fill"});
    fill.style.width = `${Math.max(0, Math.min(100, (100 * row.value) / top))}%`;
    const item = el("div", {class: "bar" + (i === 0 ? " top" : ""), role: "listitem"});
    item.style.display = "contents";
    item.append(el("span", {class: "bar-word", text: row.label}), el("div", {class: "bar-track"}, fill),
      el("span", {class: "bar-value", text: format(row.value)}));
    grid.append(item);
  });
  return grid;
}

function unknownNote(unknown) {
  return unknown && unknown.length
    ? el("p", {class: "note", text: `not in the vocabulary (read as <unk>): ${unknown.join(", ")}`}) : null;
}

function facts(info) {
  // the headline numbers: perplexity, accuracy, correlations, loss (the rest is in metrics.json)
  const entries = Object.entries(info.final || {})
    .filter(([key, value]) => typeof value === "number" && /perplexity|accuracy|spearman|loss|f1/.test(key))
    .slice(0, 4);
  if (!entries.length) return null;
  return el("dl", {class: "facts"}, ...entries.flatMap(([key, value]) =>
    [el("dt", {text: key.replaceAll("_", " ")}), el("dd", {text: typeof value === "number" ? +value.toFixed(4) : value})]));
}

// ---------------------------------------------------------------------------- language model
function lmPage(info) {
  const name = encodeURIComponent(info.name);
  const context = el("input", {id: "lm-context", value: info.example || "", autocomplete: "off",
    placeholder: "type a context", maxlength: "1000"});
  const k = numberInput("lm-k", 10, 1, 100);
  const next = panel("Next word", [field("context", context, true), field("top k", k)], "Predict", async (box) => {
    const data = await api(`runs/${name}/next`, {text: context.value, k: +k.value});
    show(box,
      el("p", {class: "note", text: `after “${data.context.join(" ")}”`}), unknownNote(data.unknown),
      bars(data.next.map((n) => ({label: n.word, value: n.p})), {id: "next-bars", query: data.context.join(" "),
        format: (v) => `${(100 * v).toFixed(1)}%`}));
  }, {live: context, id: "lm-go"});

  const start = el("input", {id: "gen-start", value: info.example || "", autocomplete: "off", maxlength: "1000"});
  const length = numberInput("gen-length", 20, 1, 100);
  const temperature = numberInput("gen-temperature", 1.0, 0.05, 10, "0.05");
  const topK = numberInput("gen-top-k", 0, 0, info.vocab_size || 100000);
  const seed = numberInput("gen-seed", 0, 0, 4294967295);
  const beam = numberInput("gen-beam", 1, 1, 10);
  const gen = panel("Continue the text", [field("start", start, true), field("words", length),
    field("temperature", temperature), field("top k (0: all)", topK), field("seed", seed), field("beam (1: sample)", beam)],
  "Generate", async (box) => {
    const data = await api(`runs/${name}/generate`, {text: start.value, length: +length.value,
      temperature: +temperature.value, top_k: +topK.value, seed: +seed.value, beam: +beam.value});
    const out = el("div", {class: "output", id: "gen-output"}, el("strong", {text: data.context.join(" ") + " "}), data.text);
    const beams = data.beams ? el("ol", {class: "beams"}, ...data.beams.map((b) =>
      el("li", {}, b.text + " ", el("span", {class: "note", text: `log p = ${b.logp.toFixed(2)}`})))) : null;
    show(box, unknownNote(data.unknown), data.mode === "beam" ? beams : out,
      el("p", {class: "note", text: data.mode === "beam" ? "beam search: the most probable continuations"
        : `sampled with seed ${data.seed}: the same seed gives the same text`}));
  }, {id: "gen-go", note: "Sampling draws each word from softmax(logits / temperature), restricted to the top k; beam > 1 searches instead."});
  main.append(next.node, gen.node);
  if (context.value) next.go();
}

// ---------------------------------------------------------------------------- seq2seq
function heatColor(w) {
  // white -> deep blue
  const t = Math.max(0, Math.min(1, w));
  const r = Math.round(255 - t * (255 - 29)), g = Math.round(255 - t * (255 - 79)), b = Math.round(255 - t * (255 - 145));
  return `rgb(${r}, ${g}, ${b})`;
}

function heatmap(matrix, rowLabels, colLabels, id) {
  const head = el("tr", {}, el("th"), ...colLabels.map((c) => el("th", {scope: "col", text: c === " " ? "␣" : c})));
  const body = matrix.map((row, i) => el("tr", {}, el("th", {scope: "row", text: rowLabels[i] === " " ? "␣" : rowLabels[i]}),
    ...row.map((w, j) => {
      const cell = el("td", {title: `${rowLabels[i]} ← ${colLabels[j]}: ${w.toFixed(3)}`,
        text: w >= 0.1 ? w.toFixed(1) : ""});
      cell.style.background = heatColor(w);
      cell.style.color = w > 0.55 ? "#fff" : "#1f2933";
      return cell;
    })));
  return el("table", {class: "heat", id}, el("thead", {}, head), el("tbody", {}, ...body));
}

function seq2seqPage(info) {
  const name = encodeURIComponent(info.name);
  const source = el("input", {id: "s2s-input", autocomplete: "off", maxlength: "1000",
    placeholder: info.level === "char" ? "characters" : "words"});
  const beam = numberInput("s2s-beam", 1, 1, 10);
  const p = panel("Translate", [field(`input (${info.level} level, at most ${info.max_input})`, source, true),
    field("beam", beam)], "Translate", async (box) => {
    const data = await api(`runs/${name}/translate`, {text: source.value, beam: +beam.value});
    const parts = [el("p", {class: "answer", id: "s2s-answer", text: data.answer || "(empty)"})];
    if (data.heads.length) {
      data.heads.forEach((matrix, h) => {
        parts.push(el("h2", {text: data.heads.length > 1 ? `Attention, head ${h + 1}` : "Attention"}),
          heatmap(matrix, data.output_tokens, data.input_tokens, `heat-${h}`));
      });
      parts.push(el("p", {class: "legend", text: "rows: output tokens; columns: input tokens; darker = more attention"}));
    } else {
      parts.push(el("p", {class: "note", text: "this model has no attention to show"}));
    }
    show(box, ...parts);
  }, {id: "s2s-go"});
  main.append(p.node);
}

// ---------------------------------------------------------------------------- classifier
function classifierPage(info) {
  const name = encodeURIComponent(info.name);
  const input = el("textarea", {id: "cls-input", maxlength: "1000", placeholder: "a text to classify"});
  const p = panel("Classify", [field(`text (labels: ${info.labels.join(", ")})`, input, true)], "Classify", async (box) => {
    const data = await api(`runs/${name}/classify`, {text: input.value});
    show(box, el("p", {}, "predicted: ", el("span", {class: "answer", id: "cls-label", text: data.label})),
      bars(data.probabilities.map((c) => ({label: c.label, value: c.p})), {id: "cls-bars", max: 1, query: input.value,
        format: (v) => `${(100 * v).toFixed(1)}%`}));
  }, {live: input, id: "cls-go"});
  main.append(p.node);
}

// ---------------------------------------------------------------------------- word vectors
function wordMap(points, variance) {
  const W = 640, H = 400, pad = 40;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad - 60);
  const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const root = svg("svg", {class: "map", id: "vec-map", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "2-D map of the chosen words"});
  root.append(svg("line", {x1: pad / 2, y1: sy(0), x2: W - pad / 2, y2: sy(0)}),
    svg("line", {x1: sx(0), y1: pad / 2, x2: sx(0), y2: H - pad / 2}));
  for (const p of points) {
    root.append(svg("circle", {cx: sx(p.x), cy: sy(p.y), r: 4}), svg("text", {x: sx(p.x) + 7, y: sy(p.y) + 4}, p.word));
  }
  root.append(svg("text", {x: W - pad, y: H - 8, "text-anchor": "end"}, `PC1 ${(100 * variance[0]).toFixed(0)}%`),
    svg("text", {x: 8, y: 16}, `PC2 ${(100 * variance[1]).toFixed(0)}%`));
  return root;
}

function vectorsPage(info) {
  const name = encodeURIComponent(info.name);
  const example = info.example || [];
  const word = el("input", {id: "vec-word", value: example[0] || "", maxlength: "100", autocomplete: "off"});
  const k = numberInput("vec-k", 10, 1, 100);
  const near = panel("Nearest neighbours", [field("word", word, true), field("how many", k)], "Find", async (box) => {
    const data = await api(`runs/${name}/neighbors`, {word: word.value, k: +k.value});
    show(box, bars(data.neighbors.map((n) => ({label: n.word, value: n.similarity})),
      {id: "vec-neighbors", max: 1, query: data.word, format: (v) => v.toFixed(3)}));
  }, {id: "vec-near-go"});

  const [a, b, c] = ["a", "b", "c"].map((key, i) => el("input", {id: `vec-${key}`, maxlength: "100", autocomplete: "off",
    value: example[i + 1] || ""}));
  const analogy = panel("Analogy: a − b + c", [field("a", a), field("− b", b), field("+ c", c)], "Solve", async (box) => {
    const data = await api(`runs/${name}/analogy`, {a: a.value, b: b.value, c: c.value, k: 5});
    show(box, el("p", {class: "note", text: `${data.query[0]} − ${data.query[1]} + ${data.query[2]} ≈`}),
      bars(data.answers.map((n) => ({label: n.word, value: n.similarity})), {id: "vec-analogy", max: 1}));
  }, {id: "vec-analogy-go", note: "king − man + woman ≈ queen, on vectors trained on enough text"});

  const words = el("input", {id: "vec-words", value: example.slice(0, 10).join(" "), maxlength: "1000",
    autocomplete: "off"});
  const map = panel("Map of words (PCA)", [field("words, separated by spaces", words, true)], "Draw", async (box) => {
    const data = await api(`runs/${name}/map`, {words: words.value});
    show(box, wordMap(data.points, data.variance),
      data.missing.length ? el("p", {class: "note", text: `not in the vocabulary: ${data.missing.join(", ")}`}) : null);
  }, {id: "vec-map-go"});
  main.append(el("div", {class: "cols"}, near.node, analogy.node), map.node);
  if (word.value) near.go();
  if (words.value) map.go();
}

// ---------------------------------------------------------------------------- the pages
const PAGES = {lm: lmPage, seq2seq: seq2seqPage, classifier: classifierPage, vectors: vectorsPage};
const KIND_NAMES = {lm: "language model", seq2seq: "seq2seq", classifier: "classifier", vectors: "word vectors"};

function indexPage(runs) {
  main.append(el("h1", {text: "Trained runs"}), el("div", {class: "grid"}, ...runs.map((run) =>
    el("a", {class: "panel card", href: `/runs/${encodeURIComponent(run.name)}`},
      el("h2", {}, run.name, el("span", {class: "kind", text: KIND_NAMES[run.kind] || run.kind})),
      el("p", {class: "note", text: `folder ${run.folder}`}), facts(run)))));
}

async function start() {
  const nav = document.getElementById("nav");
  let runs;
  try {
    runs = (await api("runs")).runs;
  } catch (err) {
    main.replaceChildren(el("div", {class: "error", text: `cannot list the runs: ${err.message}`}));
    return;
  }
  const match = location.pathname.match(/^\/runs\/([^/]+)$/);
  const current = match ? decodeURIComponent(match[1]) : null;
  for (const run of runs) {
    nav.append(el("a", {href: `/runs/${encodeURIComponent(run.name)}`, class: run.name === current ? "current" : "",
      text: run.name}));
  }
  main.replaceChildren();
  if (current === null) { indexPage(runs); document.body.dataset.ready = "1"; return; }
  const info = runs.find((run) => run.name === current);
  if (!info) { main.append(el("div", {class: "error", text: `no run named ${current}`})); return; }
  document.title = `${info.name} · zeronlp serve`;
  show(main, el("h1", {}, info.name, el("span", {class: "kind", text: KIND_NAMES[info.kind] || info.kind})),
    el("p", {class: "note", text: `folder ${info.folder}`}), facts(info));
  PAGES[info.kind](info);
  document.body.dataset.ready = "1";
}

start();
