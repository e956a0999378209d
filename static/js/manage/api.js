/* Quorum manager pages: the REST API as parsed bodies, lists across pages, jobs, and small DOM helpers. */
(function () {
  "use strict";

  /* api("POST", "/projects/1/exports", {format: "json"}) → the parsed body (null for 204), through
     quorum.js's Quorum.api (session, CSRF, the error envelope as Quorum.ApiError). */
  async function api(method, path, body) {
    const url = path.startsWith("/api/") || path.startsWith("http") ? path : "/api/v1" + path;
    return (await window.Quorum.api(method, url, body)).data;
  }

  /* All pages of a cursor-paginated list (up to `limit` rows). */
  async function apiAll(path, limit) {
    const rows = [];
    let next = path;
    while (next && rows.length < (limit || 1000)) {
      const page = await api("GET", next);
      if (Array.isArray(page)) return page;
      rows.push(...(page.results || []));
      next = page.next;
    }
    return rows;
  }

  /* el("td", {class: "num", text: "3"}, [children…]) */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function fmt(value, digits) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return value.toLocaleString();
      return value.toFixed(digits === undefined ? 2 : digits);
    }
    return String(value);
  }

  function pct(value) { return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%"; }

  function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

  /* A status line (role=status, aria-live) that says what happens, in `kind` ok | error | busy. */
  function say(node, message, kind) {
    if (!node) return;
    node.textContent = message || "";
    node.dataset.kind = kind || "";
  }

  /* Poll GET /jobs/{id} until it ends; onProgress(job) after each read. Resolves with the finished job. */
  async function waitJob(jobId, onProgress, intervalMs) {
    for (;;) {
      const job = await api("GET", `/jobs/${jobId}`);
      if (onProgress) onProgress(job);
      if (job.status === "succeeded" || job.status === "failed") return job;
      await new Promise((resolve) => setTimeout(resolve, intervalMs || 700));
    }
  }

  function jsonData(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  window.QM = { api, apiAll, el, clear, fmt, pct, when, say, waitJob, jsonData, cookie: window.Quorum.cookie };
})();
