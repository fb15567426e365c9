// One instance: question, gold rows with each run's labels and carrier lines, answers, and the
// context in pages (a 1M-token context is tens of thousands of lines; only one page is in the DOM).
"use strict";
(function () {
  const PAGE = 500;
  const $ = (id) => document.getElementById(id);
  const file = Holo.params().get("id") || "";
  let inst = null, view = [], page = 0, markRun = 0;
  let lineGold = new Map();   // line index -> gold row indices it carries
  let lastAsked = null;       // the go-to-line box's last number

  function fail(message) { $("error").hidden = false; $("error").textContent = message; document.body.dataset.ready = "error"; }

  if (!/^[A-Za-z0-9._-]+$/.test(file)) { fail("No instance named in the address (instance.html?id=...)."); return; }
  const script = document.createElement("script");
  script.src = "data/i/" + file + ".js";
  script.onload = () => { inst = window.HOLO_INSTANCE; try { render(); } catch (e) { fail(String(e)); throw e; } };
  script.onerror = () => fail("This viewer has no instance " + file + ".");
  document.head.append(script);

  function labelsOf(run) { const r = inst.runs[run]; return r && r.status === "scored" ? r.labels : []; }

  function render() {
    document.title = inst.id;
    $("iid").textContent = inst.id;
    $("meta").textContent = `${inst.db} \u00b7 ${inst.query} \u00b7 ${inst.categories.join(", ")} \u00b7 ${inst.difficulty}`;
    $("question").textContent = inst.question;
    $("sql").textContent = inst.sql;
    const facts = [["tokens", inst.stats.tokens], ["target", inst.config.target_tokens], ["placement", inst.config.placement],
      ["info amount", inst.config.info_amount], ["info density", inst.config.info_density], ["seed", inst.config.seed],
      ["answerable", inst.answerable === null || inst.answerable === undefined ? "n/a (uniform sampling)" : inst.answerable ? "yes" : "no (by design)"],
      ["relevant rows", inst.stats.relevant_rows], ["auxiliary rows", inst.stats.auxiliary_rows], ["filler rows", inst.stats.filler_rows]];
    for (const [k, v] of facts) if (v !== undefined && v !== null) $("facts").append(Holo.el("dt", { text: k }), Holo.el("dd", { text: v }));
    inst.carriers.forEach((lines, g) => lines.forEach((i) => { if (!lineGold.has(i)) lineGold.set(i, []); lineGold.get(i).push(g); }));
    inst.runs.forEach((r, i) => $("mark-run").append(Holo.el("option", { value: i, text: runLabel(i) })));
    const params = Holo.params();
    const asked = Number(params.get("run") || 0);
    markRun = Number.isInteger(asked) ? Math.max(0, Math.min(asked, inst.runs.length - 1)) : 0;
    $("mark-run").value = markRun;
    gold(); answers();
    $("mark-run").addEventListener("change", () => { markRun = Number($("mark-run").value); drawContext(); minimap(); });
    $("only-relevant").addEventListener("change", () => { page = 0; layout(); drawContext(); });
    $("prev").addEventListener("click", () => { page--; lastAsked = null; drawContext(); });
    $("next").addEventListener("click", () => { page++; lastAsked = null; drawContext(); });
    // a change fires again when the box loses focus: one jump per number typed
    $("goto").addEventListener("change", () => { if ($("goto").value !== lastAsked) { lastAsked = $("goto").value; jump(Number(lastAsked) - 1); } });
    $("minimap").addEventListener("click", (ev) => {
      const box = $("minimap-canvas").getBoundingClientRect();
      jump(Math.floor(((ev.clientY - box.top) / box.height) * inst.lines.length));
    });
    layout();
    const hash = /^#L(\d+)$/.exec(window.location.hash);
    const line = Number(params.get("line") || (hash ? hash[1] : 0));
    if (line) jump(line - 1); else drawContext();
    minimap();
    document.body.dataset.ready = "1";
    window.HOLO_READY_MS = performance.now();
  }

  function runLabel(i) { return inst.run_labels[i] || "run " + (i + 1); }

  function gold() {
    $("gold-count").textContent = `(${inst.gold.length})`;
    const head = Holo.el("tr", {}, Holo.el("th", { text: "#" }));
    for (const c of inst.columns) head.append(Holo.el("th", { text: c }));
    inst.runs.forEach((r, i) => head.append(Holo.el("th", { text: runLabel(i) })));
    head.append(Holo.el("th", { text: "lines" }));
    $("gold").tHead.append(head);
    const body = $("gold").tBodies[0] || $("gold").createTBody();
    if (!inst.gold.length) body.append(Holo.el("tr", {}, Holo.el("td", { colspan: inst.columns.length + inst.runs.length + 2, class: "st", text: "no gold rows: the answer is empty" })));
    inst.gold.forEach((row, g) => {
      const tr = Holo.el("tr", { "data-gold": g }, Holo.el("td", { text: "G" + (g + 1) }));
      for (const v of row) tr.append(Holo.el("td", { text: v === null ? "NULL" : v }));
      inst.runs.forEach((r, i) => {
        const label = labelsOf(i)[g];
        tr.append(Holo.el("td", { "data-run": i, "data-label": label || "" }, label ? Holo.label(label) : Holo.el("span", { class: "st", text: g >= labelsOf(i).length && labelsOf(i).length ? "not judged" : (r ? r.status : "not in run") })));
      });
      const links = Holo.el("td", { class: "lines" });
      for (const i of inst.carriers[g] || []) links.append(Holo.el("a", { href: "#L" + (i + 1), "data-line": i, text: i + 1, onclick: (ev) => { ev.preventDefault(); jump(i); } }));
      if (!(inst.carriers[g] || []).length) links.append(Holo.el("span", { class: "st", text: "\u2013" }));
      tr.append(links);
      body.append(tr);
    });
  }

  function answers() {
    inst.runs.forEach((r, i) => {
      const box = Holo.el("div", { class: "answer", "data-run": i }, Holo.el("h3", { text: runLabel(i) }));
      if (!r) { box.append(Holo.el("p", { class: "st", text: "this run has no prediction for this instance" })); $("answers").append(box); return; }
      const facts = Holo.el("dl");
      const add = (k, v) => { if (v !== null && v !== undefined && v !== "") facts.append(Holo.el("dt", { text: k }), Holo.el("dd", { text: v })); };
      add("status", r.status); add("score", r.score === null ? null : Holo.fmt(r.score)); add("precision", r.precision === null ? null : Holo.fmt(r.precision));
      add("why", r.reason); add("error", r.error); add("finish reason", r.finish_reason);
      add("tokens", `${r.prompt_tokens} in, ${r.completion_tokens} out`); add("latency", Holo.fmt(r.latency_s, 2) + " s");
      add("cost", r.cost_usd === null ? null : "$" + r.cost_usd.toFixed(5)); add("attempts", r.attempts); add("cached", r.cached ? "yes" : null);
      box.append(facts);
      if (r.answer !== null) box.append(Holo.el("h4", { text: "Extracted answer" }), Holo.el("pre", { class: "extracted", text: r.answer }));
      box.append(Holo.el("h4", { text: "Response" }), Holo.el("pre", { class: "response", text: r.response === null ? "(none)" : r.response }));
      if (r.reasoning) box.append(Holo.el("details", {}, Holo.el("summary", { text: "Reasoning" }), Holo.el("pre", { class: "reasoning", text: r.reasoning })));
      $("answers").append(box);
    });
  }

  function layout() {
    view = [];
    const only = $("only-relevant").checked;
    for (let i = 0; i < inst.lines.length; i++) if (!only || inst.kinds[i] === "r") view.push(i);
    $("context-count").textContent = `(${inst.lines.length} lines; ${view.length} shown)`;
  }

  function lineClass(i) {
    const carried = lineGold.get(i);
    if (carried) {
      const labels = labelsOf(markRun);
      if (carried.some((g) => labels[g] === "no")) return "missed";
      return "carrier";
    }
    return inst.kinds[i] === "r" ? "rel" : "";
  }

  function drawContext(flash) {
    const pages = Math.max(1, Math.ceil(view.length / PAGE));
    page = Math.max(0, Math.min(page, pages - 1));
    $("page-info").textContent = `page ${page + 1} of ${pages}`;
    $("prev").disabled = page === 0;
    $("next").disabled = page >= pages - 1;
    const items = [];
    let last = -1;
    for (const i of view.slice(page * PAGE, (page + 1) * PAGE)) {
      if (last >= 0 && i > last + 1) items.push(Holo.el("li", { class: "gap", text: `\u2026 ${i - last - 1} lines \u2026` }));
      last = i;
      const carried = lineGold.get(i);
      const li = Holo.el("li", { id: "L" + (i + 1), class: lineClass(i), "data-line": i, "data-kind": inst.kinds[i],
        "data-gold": carried ? carried.map((g) => g + 1).join(" ") : null, title: inst.tables[inst.line_table[i]] },
        Holo.el("span", { class: "n", text: i + 1 }), Holo.el("span", { class: "t", text: inst.lines[i] }));
      if (carried) li.append(Holo.el("span", { class: "g" }, ...carried.map((g) => { const l = labelsOf(markRun)[g]; return Holo.el("span", { class: "lab " + (l || "none"), text: "G" + (g + 1) }); })));
      items.push(li);
    }
    $("context").replaceChildren(...items);
    $("context").start = 1;
    if (flash !== undefined) {
      const node = document.getElementById("L" + (flash + 1));
      if (node) { node.classList.add("flash"); node.scrollIntoView({ block: "center" }); }
    }
  }

  function jump(i) {
    if (!(Number.isInteger(i) && i >= 0 && i < inst.lines.length)) { drawContext(); return; }
    const params = Holo.params();
    params.set("line", i + 1);
    Holo.setParams(params);
    if ($("only-relevant").checked && inst.kinds[i] !== "r") { $("only-relevant").checked = false; layout(); }
    const at = view.indexOf(i);
    page = Math.floor(Math.max(0, at) / PAGE);
    drawContext(i);
  }

  function minimap() {
    const canvas = $("minimap-canvas");
    const ctx = canvas.getContext("2d");
    const h = canvas.height, n = inst.lines.length || 1;
    ctx.clearRect(0, 0, canvas.width, h);
    const pass = (want, color, x, w) => {
      ctx.fillStyle = color;
      for (let i = 0; i < inst.lines.length; i++) if (want(i)) ctx.fillRect(x, Math.floor((i / n) * h), w, Math.max(1, h / n));
    };
    pass((i) => inst.kinds[i] === "r", "#e6c200", 0, 24);
    pass((i) => lineClass(i) === "carrier", "#2856b6", 6, 18);
    pass((i) => lineClass(i) === "missed", "#c0392b", 6, 18);
  }
})();
