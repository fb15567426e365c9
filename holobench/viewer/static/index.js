// The sample table: filters, search, sort, paging, run comparison and the position table.
// State lives in the URL (?db=..&sort=..) so a view can be shared and reopened as it was.
"use strict";
(function () {
  const data = window.HOLO_INDEX;
  const runs = data.runs;
  const samples = data.samples;
  const PAGE = 100;
  const $ = (id) => document.getElementById(id);
  const FACETS = ["db", "category", "length", "setting", "placement", "answerable"];
  const state = { sort: "id", dir: "asc", page: 0 };

  function facetValue(s, key) {
    if (key === "category") return s.categories;
    if (key === "answerable") return [s.answerable === null ? "n/a" : s.answerable ? "answerable" : "unanswerable"];
    if (key === "setting") return [s.setting + " " + Holo.fmt(s.level)];
    return [String(s[key])];
  }

  function fillSelect(select, values, all) {
    select.append(Holo.el("option", { value: "", text: all }));
    for (const v of values) select.append(Holo.el("option", { value: v, text: v }));
  }

  function setup() {
    if ((data.notes || []).length) {
      $("notes").hidden = false; $("notes").textContent = data.notes.join(" ");
      $("position").append(Holo.el("p", { class: "error", text: data.notes.join(" ") }));
    }
    $("runs-line").textContent = runs.map((r, i) => `${i + 1}. ${r.label} (${r.backend}/${r.model}, ${r.prompt}` +
      (r.mean === null ? ", unscored)" : `, mean ${Holo.fmt(r.mean)} over ${r.scored})`)).join("   ");
    for (const key of FACETS) {
      const values = new Set();
      for (const s of samples) for (const v of facetValue(s, key)) values.add(v);
      const sorted = [...values].sort((a, b) => key === "length" ? Number(a) - Number(b) : a.localeCompare(b));
      fillSelect($("f-" + key), sorted, "all");
    }
    runs.forEach((r, i) => {
      $("f-run").append(Holo.el("option", { value: i, text: r.label }));
      $("c-a").append(Holo.el("option", { value: i, text: r.label }));
      $("c-b").append(Holo.el("option", { value: i, text: r.label }));
    });
    const statuses = new Set();
    for (const s of samples) for (const c of s.runs) statuses.add(c ? c.status : "missing");
    fillSelect($("f-status"), [...statuses].sort(), "any");
    for (const o of $("f-status").options) if (o.value === "missing") o.textContent = "not in run";
    if (runs.length > 1) { $("compare").hidden = false; $("c-b").value = "1"; }
    const params = Holo.params();
    for (const key of FACETS) if (params.has(key)) $("f-" + key).value = params.get(key);
    for (const [id, key] of [["f-run", "run"], ["f-status", "status"], ["f-label", "label"], ["f-q", "q"],
      ["c-a", "a"], ["c-b", "b"], ["c-rel", "rel"]]) if (params.has(key)) $(id).value = params.get(key);
    state.sort = params.get("sort") || "id";
    state.dir = params.get("dir") === "desc" ? "desc" : "asc";
    state.page = Math.max(0, parseInt(params.get("page") || "1", 10) - 1) || 0;
    for (const node of document.querySelectorAll("#filters select, #compare select")) node.addEventListener("change", () => { state.page = 0; update(); });
    $("f-q").addEventListener("input", () => { state.page = 0; update(); });
  }

  const right = (c) => c && c.status === "scored" && c.score === 1;
  const wrong = (c) => c && c.status === "scored" && c.score !== null && c.score < 1;
  const scoreOf = (c) => (c && c.status === "scored" && c.score !== null ? c.score : null);

  function compareOk(s) {
    const rel = $("c-rel").value;
    if (!rel || runs.length < 2) return true;
    const a = s.runs[Number($("c-a").value)], b = s.runs[Number($("c-b").value)];
    if (rel === "a-right-b-wrong") return right(a) && wrong(b);
    if (rel === "a-wrong-b-right") return wrong(a) && right(b);
    const x = scoreOf(a), y = scoreOf(b);
    if (x === null || y === null) return false;
    return { "a-better": x > y, "b-better": x < y, same: x === y, differ: x !== y }[rel];
  }

  function labelOk(c, want) {
    if (!want) return true;
    if (!c || c.status !== "scored") return false;
    const total = c.exact + c.partial + c.no;
    return { "all-exact": total > 0 && c.exact === total, "has-partial": c.partial > 0, "has-no": c.no > 0,
      "none-exact": c.exact === 0 }[want];
  }

  function filtered() {
    const run = Number($("f-run").value || 0);
    const status = $("f-status").value, want = $("f-label").value;
    const q = $("f-q").value.trim().toLowerCase();
    const facets = FACETS.map((key) => [key, $("f-" + key).value]).filter(([, v]) => v);
    return samples.filter((s) => {
      for (const [key, v] of facets) if (!facetValue(s, key).includes(v)) return false;
      const c = s.runs[run];
      if (status && (c ? c.status : "missing") !== status) return false;
      if (!labelOk(c, want)) return false;
      if (q && !(s.question.toLowerCase().includes(q) || s.id.toLowerCase().includes(q) ||
        s.runs.some((r) => r && r.answer.toLowerCase().includes(q)))) return false;
      return compareOk(s);
    });
  }

  function sortKey(s) {
    const m = /^score(\d+)$/.exec(state.sort);
    if (m) { const v = scoreOf(s.runs[Number(m[1])]); return v === null ? -1 : v; }
    if (state.sort === "level") return s.setting + ":" + s.level.toFixed(6).padStart(16, "0");  // amounts apart from densities
    return s[state.sort];
  }

  function sorted(rows) {
    const sign = state.dir === "desc" ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const x = sortKey(a), y = sortKey(b);
      const cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return sign * cmp || a.id.localeCompare(b.id);
    });
  }

  function header() {
    const cols = [["id", "Instance"], ["db", "Database"], ["category", "Category"], ["length", "Length"],
      ["level", "Setting"], ["placement", "Placement"], ["answerable", "Answerable"], ["question", "Question"]];
    runs.forEach((r, i) => cols.push(["score" + i, r.label]));
    const tr = Holo.el("tr");
    for (const [key, name] of cols) {
      const th = Holo.el("th", { class: "sortable" + (key.startsWith("score") || key === "length" ? " num" : ""),
        "data-key": key, text: name, title: "sort by " + name });
      if (state.sort === key) th.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending");
      th.addEventListener("click", () => {
        state.dir = state.sort === key && state.dir === "asc" ? "desc" : key.startsWith("score") && state.sort !== key ? "desc" : "asc";
        state.sort = key; state.page = 0; update();
      });
      tr.append(th);
    }
    $("samples").tHead.replaceChildren(tr);
  }

  function runCell(c) {
    if (!c) return Holo.el("td", { class: "num st", text: "not in run", "data-status": "missing" });
    const td = Holo.el("td", { class: "num", "data-status": c.status, "data-score": c.score === null ? "" : c.score });
    if (c.status !== "scored") { td.append(Holo.el("span", { class: "st", text: c.status })); return td; }
    td.append(Holo.el("b", { text: Holo.fmt(c.score, 2) }), " ");
    td.append(Holo.el("span", { class: "st", text: `${c.exact}\u2713 ${c.partial}\u00bd ${c.no}\u2717`,
      title: `${c.exact} exact, ${c.partial} partial, ${c.no} no` }));
    return td;
  }

  function row(s) {
    const focus = $("f-run").value || "0";
    const link = Holo.el("a", { href: "instance.html?id=" + encodeURIComponent(s.file) + (focus !== "0" ? "&run=" + focus : ""), text: s.id });
    const tr = Holo.el("tr", { "data-id": s.id },
      Holo.el("td", {}, link), Holo.el("td", { text: s.db }), Holo.el("td", { text: s.categories.join(", ") }),
      Holo.el("td", { class: "num", text: s.length }), Holo.el("td", { text: `${s.setting} ${Holo.fmt(s.level)}` }),
      Holo.el("td", { text: s.placement }),
      Holo.el("td", { text: s.answerable === null ? "" : s.answerable ? "yes" : "no" }),
      Holo.el("td", { class: "q", text: s.question }));
    s.runs.forEach((c) => tr.append(runCell(c)));
    return tr;
  }

  function summary(rows) {
    const parts = runs.map((r, i) => {
      const scores = rows.map((s) => scoreOf(s.runs[i])).filter((v) => v !== null);
      const mean = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
      return `${r.label}: mean ${Holo.fmt(mean)} over ${scores.length} scored`;
    });
    const p = $("summary");
    p.dataset.count = rows.length;
    const same = $("c-rel").value && $("c-a").value === $("c-b").value ? " (the comparison needs two different runs)" : "";
    p.textContent = `${rows.length} of ${samples.length} instances${same}. ` + parts.join("; ");
  }

  function pager(total) {
    const pages = Math.max(1, Math.ceil(total / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const nav = $("pager");
    nav.replaceChildren();
    if (pages === 1) return;
    const go = (p) => { state.page = Math.max(0, Math.min(p, pages - 1)); update(); $("samples").scrollIntoView(); };
    nav.append(Holo.el("button", { type: "button", text: "\u21e4", title: "first page", disabled: state.page === 0, onclick: () => go(0) }));
    nav.append(Holo.el("button", { type: "button", text: "\u2190", title: "previous page", disabled: state.page === 0, onclick: () => go(state.page - 1) }));
    nav.append(Holo.el("span", { text: "page " }));
    nav.append(Holo.el("input", { type: "number", min: 1, max: pages, value: state.page + 1, "aria-label": "page",
      onchange: (ev) => go(Number(ev.target.value) - 1) }));
    nav.append(Holo.el("span", { text: ` of ${pages}` }));
    nav.append(Holo.el("button", { type: "button", text: "\u2192", title: "next page", disabled: state.page >= pages - 1, onclick: () => go(state.page + 1) }));
    nav.append(Holo.el("button", { type: "button", text: "\u21e5", title: "last page", disabled: state.page >= pages - 1, onclick: () => go(pages - 1) }));
  }

  // Recall of gold rows by where their carrier lines sit (decile), and by placement, per run.
  function position(rows) {
    const placements = [...new Set(rows.map((s) => s.placement))].sort();
    const head = Holo.el("tr", {}, Holo.el("th", { text: "Run" }));
    for (let d = 1; d <= 10; d++) head.append(Holo.el("th", { class: "num", text: "D" + d }));
    head.append(Holo.el("th", { class: "num", text: "gold rows" }));
    for (const p of placements) head.append(Holo.el("th", { class: "num", text: p }));
    const cell = (f, w) => Holo.el("td", { class: "num", text: w ? Holo.fmt(f / w, 2) : "\u2013", title: `${Holo.fmt(w, 1)} gold rows` });
    const body = runs.map((r, i) => {
      const found = new Array(10).fill(0), weight = new Array(10).fill(0);
      const byPlacement = Object.fromEntries(placements.map((p) => [p, [0, 0]]));
      for (const s of rows) {
        const c = s.runs[i];
        if (!c || c.status !== "scored") continue;
        for (const [d, w, f] of s.positions[i] || []) {
          found[d] += f; weight[d] += w; byPlacement[s.placement][0] += f; byPlacement[s.placement][1] += w;
        }
      }
      const tr = Holo.el("tr", { "data-run": i }, Holo.el("td", { text: r.label }));
      for (let d = 0; d < 10; d++) tr.append(cell(found[d], weight[d]));
      tr.append(Holo.el("td", { class: "num", text: Holo.fmt(weight.reduce((a, b) => a + b, 0), 1) }));
      for (const p of placements) tr.append(cell(...byPlacement[p]));
      return tr;
    });
    $("position-table").tHead.replaceChildren(head);
    $("position-table").tBodies[0].replaceChildren(...body);
  }

  function update() {
    const rows = sorted(filtered());
    header();
    summary(rows);
    pager(rows.length);
    $("samples").tBodies[0].replaceChildren(...rows.slice(state.page * PAGE, (state.page + 1) * PAGE).map(row));
    position(rows);
    const params = new URLSearchParams();
    for (const key of FACETS) if ($("f-" + key).value) params.set(key, $("f-" + key).value);
    for (const [id, key] of [["f-run", "run"], ["f-status", "status"], ["f-label", "label"], ["f-q", "q"], ["c-rel", "rel"]])
      if ($(id).value && !(key === "run" && $(id).value === "0")) params.set(key, $(id).value);
    if ($("c-rel").value) { params.set("a", $("c-a").value); params.set("b", $("c-b").value); }
    if (state.sort !== "id" || state.dir !== "asc") { params.set("sort", state.sort); params.set("dir", state.dir); }
    if (state.page) params.set("page", state.page + 1);
    Holo.setParams(params);
    $("samples").dataset.sorted = `${state.sort}:${state.dir}`;
    document.body.dataset.ready = "1";
  }

  setup();
  update();
})();
