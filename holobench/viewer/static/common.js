// Helpers shared by the viewer's pages. Data from runs only ever reaches the page as text
// (textContent, attribute values): nothing from a run is parsed as HTML or executed.
"use strict";
const Holo = {
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || (value === false && key !== "text")) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },
  fmt(value, digits = 3) {
    if (value === null || value === undefined || Number.isNaN(value)) return "\u2013";
    return typeof value === "number" ? value.toFixed(digits).replace(/\.?0+$/, "") || "0" : String(value);
  },
  params() { return new URLSearchParams(window.location.search); },
  setParams(params) {
    const query = params.toString();
    try { window.history.replaceState(null, "", query ? "?" + query : window.location.pathname); } catch (e) { /* file:// may refuse */ }
  },
  label(name) { return Holo.el("span", { class: "lab " + name, text: name, title: name }); },
};
