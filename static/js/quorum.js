/* Quorum's shared browser helpers (no framework needed): window.Quorum.api (fetch with the session's CSRF
   token and the error envelope), Quorum.showError, Quorum.socket (a reconnecting WebSocket), Quorum.el. */
(function () {
  "use strict";

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || ("request failed (" + status + ")"));
      this.status = status;
      this.code = error.code || "http_" + status;
      this.details = error.details || {};
    }
  }

  /* api("POST", "/api/v1/projects/3/next", body?) → {status, data} (data null for 204); throws ApiError. */
  async function api(method, url, body, options) {
    const headers = { Accept: "application/json" };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = cookie("csrftoken");
    if (body !== undefined && body !== null) {
      if (body instanceof FormData) {
        init.body = body;
      } else {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    Object.assign(headers, (options && options.headers) || {});
    if (options && options.keepalive) init.keepalive = true;
    let response;
    try {
      response = await fetch(url, init);
    } catch (networkError) {
      throw new ApiError(0, { error: { code: "network", message: "Cannot reach the server. Check your connection." } });
    }
    let data = null;
    if (response.status !== 204) {
      const type = response.headers.get("Content-Type") || "";
      data = type.includes("json") ? await response.json() : await response.text();
    }
    // The session ended (idle expiry, sign-out in another tab): back to the sign-in page, then here again.
    const code = data && data.error && data.error.code;
    if (response.status === 401 || code === "not_authenticated") {
      window.location.assign("/accounts/login/?next=" + encodeURIComponent(window.location.pathname));
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return { status: response.status, data: data };
  }

  /* Show an error (an ApiError, an Error or a string) in the page's [data-error] box, or `target`. */
  function showError(error, target) {
    const box = target || document.querySelector("[data-error]");
    const message = typeof error === "string" ? error : error.message;
    if (!box) { window.console.error(message); return; }
    box.textContent = message;
    if (error && error.details && error.details.path) box.textContent += " (" + error.details.path + ": " + error.details.reason + ")";
    box.hidden = false;
  }

  function clearError(target) {
    const box = target || document.querySelector("[data-error]");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  /* el("button", {class: "x", onclick: fn}, "text", child…): a small DOM builder, so no innerHTML of data. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /* socket("/ws/me/", onMessage): reconnects with a growing delay; returns {close()}. */
  function socket(path, onMessage) {
    let ws = null, closed = false, delay = 1000;
    function open() {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(scheme + window.location.host + path);
      ws.addEventListener("open", function () { delay = 1000; });
      ws.addEventListener("message", function (event) {
        try { onMessage(JSON.parse(event.data)); } catch (e) { window.console.error(e); }
      });
      ws.addEventListener("close", function () {
        if (closed) return;
        window.setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      });
    }
    open();
    return { close: function () { closed = true; if (ws) ws.close(); } };
  }

  function formatNumber(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  /* A decimal string from the API ("0.0500") shown with two decimals or more where they matter ("0.05"). */
  function money(amount, currency) {
    const text = String(amount).replace(/^(-?\d+\.\d\d\d*?)0+$/, "$1");
    return text + (currency ? " " + currency : "");
  }

  // The organization switcher submits when a new organization is picked (the button stays for no-JS use).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });

  window.Quorum = { api: api, ApiError: ApiError, showError: showError, clearError: clearError, el: el,
                    socket: socket, cookie: cookie, formatNumber: formatNumber, money: money };
})();
