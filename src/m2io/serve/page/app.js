// The m2io page: ask a question, show the answer with its figures where the API placed them.
// Every piece of document or model text goes into the page with textContent, never innerHTML,
// and only http(s) or same-server URLs become links or image sources (docs/design.md,
// "Hostile input"). The page's CSP allows no inline script and no other origin.
"use strict";

const LIST_ITEM = /^(?:\d{1,3}[.)]|[-*+•]|[Ss]tep \d{1,3}[:.)])\s/;
const CODE_SPAN = /(`+)([^`][\s\S]*?)\1(?!`)/g;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// A URL the page may use: same server (absolute path or same origin) or http(s).
function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, window.location.href);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  } catch (e) { /* not a URL */ }
  return null;
}

function sameOrigin(value) {
  const url = safeUrl(value);
  return url && new URL(url).origin === window.location.origin ? url : null;
}

// One line of answer text: plain text with `code spans`, built from text nodes.
function appendLine(parent, text) {
  let pos = 0;
  for (const m of text.matchAll(CODE_SPAN)) {
    if (m.index > pos) parent.appendChild(document.createTextNode(text.slice(pos, m.index)));
    parent.appendChild(el("code", {}, m[2]));
    pos = m.index + m[0].length;
  }
  if (pos < text.length) parent.appendChild(document.createTextNode(text.slice(pos)));
}

function apiHeaders() {
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem("m2io-key");
  if (key) headers.Authorization = "Bearer " + key;
  return headers;
}

function openViewer(src, caption) {
  $("viewer-img").src = src;
  $("viewer-img").alt = caption;
  $("viewer-caption").textContent = caption;
  $("viewer").showModal();
}

function figure(seg) {
  const fig = el("figure", {
    class: "figure",
    "data-image-id": seg.image_id,
    "data-after-sentence": String(seg.after_sentence),
  });
  const src = sameOrigin(seg.url);
  const caption = typeof seg.caption === "string" ? seg.caption : "";
  if (src) {
    const img = el("img", { src: src, alt: caption || "figure", referrerpolicy: "no-referrer" });
    img.addEventListener("click", () => openViewer(src, caption));
    fig.appendChild(img);
  } else {
    fig.appendChild(el("em", { class: "unavailable" }, "image " + seg.image_id + " unavailable"));
  }
  if (caption) fig.appendChild(el("figcaption", {}, caption));
  return fig;
}

// Consecutive table rows (text segments with a `row`) as one table, with a header row when
// they share their header cells. Cells go in as text, like every other piece of answer text.
function sameHeaders(rows) {
  const first = JSON.stringify(rows[0].headers || []);
  return rows.every((r) => JSON.stringify(r.headers || []) === first) && rows[0].headers.length
    ? rows[0].headers : null;
}

function tableOf(rows) {
  const table = el("table", { class: "answer-table" });
  const head = sameHeaders(rows);
  if (head) {
    const tr = el("tr");
    for (const h of head) tr.appendChild(el("th", {}, String(h)));
    table.appendChild(el("thead")).appendChild(tr);
  }
  const body = table.appendChild(el("tbody"));
  for (const r of rows) {
    const tr = body.appendChild(el("tr"));
    for (const c of r.cells || []) {
      const td = tr.appendChild(el("td"));
      appendLine(td, String(c));
    }
  }
  return table;
}

// Text segments between images become paragraphs (a list item starts a new line; table rows
// become a table), each followed by the numbers of its sources; images stand alone, in the
// API's order.
function renderAnswer(data) {
  const main = $("answer");
  main.replaceChildren();
  const nSources = (data.sources || []).length;
  let para = null, lines = 0, cites = [], rows = [], citedLast = [];
  const flushRows = () => {
    if (rows.length) main.appendChild(tableOf(rows));
    rows = [];
  };
  const flush = () => {
    flushRows();
    if (!para && cites.length) para = el("p", { class: "answer-text" });  // rows' sources
    if (!para) return;
    for (const k of cites) {
      const sup = el("sup", { class: "cite" });
      sup.appendChild(el("a", { href: "#source-" + k }, "[" + k + "]"));
      para.appendChild(sup);
    }
    main.appendChild(para);
    citedLast = cites;
    para = null; lines = 0; cites = [];
  };
  let anyText = false, afterCommand = false;
  for (const seg of data.segments || []) {
    if (seg.type === "text" && seg.row && Array.isArray(seg.row.cells)) {
      anyText = true;
      if (para) flush();
      rows.push(seg.row);
      if (Number.isInteger(seg.source) && seg.source >= 1 && seg.source <= nSources
          && !cites.includes(seg.source)) cites.push(seg.source);
    } else if (seg.type === "text" && typeof seg.code === "string") {
      anyText = true;  // a code block: its lines as written, a block of its own
      flushRows();
      if (para) flush();
      const pre = el("pre", { class: "code sentence", "data-sentence": String(seg.sentence_index) });
      pre.appendChild(el("code", {}, seg.code));
      main.appendChild(pre);
      afterCommand = true;
      // a block cites its source unless the paragraph just before it did already
      if (Number.isInteger(seg.source) && seg.source >= 1 && seg.source <= nSources
          && !cites.includes(seg.source) && !citedLast.includes(seg.source)) cites.push(seg.source);
    } else if (seg.type === "text") {
      anyText = true;
      flushRows();
      if (!para) para = el("p", { class: "answer-text" });
      else if (LIST_ITEM.test(seg.text) || seg.command || afterCommand) para.appendChild(el("br"));
      else para.appendChild(document.createTextNode(" "));
      const span = el("span", { class: "sentence", "data-sentence": String(seg.sentence_index) });
      if (seg.command) span.appendChild(el("code", {}, seg.text));  // "Build it:" then `make`
      else appendLine(span, seg.text);
      afterCommand = seg.command === true;
      para.appendChild(span);
      lines += 1;
      if (Number.isInteger(seg.source) && seg.source >= 1 && seg.source <= nSources
          && !cites.includes(seg.source)) cites.push(seg.source);
    } else if (seg.type === "image") {
      afterCommand = false;
      flush();
      main.appendChild(figure(seg));
    }
  }
  flush();
  if (!anyText) main.appendChild(el("p", { class: "empty" }, (data.notes || [])[0] || "No answer."));
  renderContinued(main, data.continued, nSources);
  renderSources(data.sources || []);
  renderNotes(anyText ? data.notes || [] : (data.notes || []).slice(1));
  renderTimings(data.timings_ms || {});
}

// A procedure the answer holds only in part: where it goes on ("Steps 4–9 continue in …"),
// with a link to its source in the list below.
function renderContinued(main, continued, nSources) {
  if (!continued || typeof continued.text !== "string") return;
  const p = el("p", { class: "continued" });
  p.appendChild(el("em", {}, continued.text));
  const k = continued.source;
  if (Number.isInteger(k) && k >= 1 && k <= nSources) {
    const sup = el("sup", { class: "cite" });
    sup.appendChild(el("a", { href: "#source-" + k }, "[" + k + "]"));
    p.appendChild(sup);
  }
  main.appendChild(p);
}

function renderSources(sources) {
  const list = $("source-list");
  list.replaceChildren();
  sources.forEach((src, i) => {
    const li = el("li", { id: "source-" + (i + 1) });
    const url = safeUrl(src.url);
    if (url) {
      li.appendChild(el("a", { href: url, rel: "noreferrer noopener", target: "_blank" }, src.label));
    } else {
      li.textContent = src.label + (src.location ? " (" + src.location + ")" : "");
    }
    list.appendChild(li);
  });
  $("sources").hidden = sources.length === 0;
}

function renderNotes(notes) {
  const box = $("notes");
  box.replaceChildren();
  for (const note of notes) box.appendChild(el("div", { class: "note" }, note));
  box.hidden = notes.length === 0;
}

function renderTimings(timings) {
  const rows = $("timing-rows");
  rows.replaceChildren();
  for (const [stage, ms] of Object.entries(timings)) {
    const tr = el("tr");
    tr.appendChild(el("td", {}, stage));
    tr.appendChild(el("td", { class: "ms" }, Number(ms).toFixed(1) + " ms"));
    rows.appendChild(tr);
  }
  $("timings").hidden = rows.children.length === 0;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!isError);
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem("m2io-key", key);
  $("ask-button").disabled = true;
  setStatus("Searching the documents…");
  const started = performance.now();
  try {
    const resp = await fetch("/v1/answer", {
      method: "POST",
      headers: apiHeaders(),
      body: JSON.stringify({ question: question }),
    });
    const data = await resp.json().catch(() => ({}));
    if (resp.status === 401) {
      $("key-row").hidden = false;
      setStatus("This server needs an API key: enter it above and ask again.", true);
      return;
    }
    if (!resp.ok) {
      setStatus((data.error && data.error.message) || "Request failed (" + resp.status + ")", true);
      return;
    }
    renderAnswer(data);
    setStatus("Answered in " + Math.round(performance.now() - started) + " ms.");
  } catch (err) {
    setStatus("Could not reach the server: " + err, true);
  } finally {
    $("ask-button").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("submit", ask);
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer").addEventListener("click", (e) => { if (e.target === $("viewer")) $("viewer").close(); });
  const q = new URLSearchParams(window.location.search).get("q");
  if (q) { $("question").value = q; $("ask").requestSubmit(); }
});
