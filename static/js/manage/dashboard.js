/* Live project dashboard: counts from GET /projects/{id}/progress, then kept current by /ws/projects/{id}/
   (progress, annotation.created, task.updated); the throughput chart is redrawn from progress reads. */
(function () {
  "use strict";
  const { api, el, fmt } = window.QM;
  const root = document.getElementById("dashboard");
  const projectId = root.dataset.project;
  const status = document.getElementById("live-status");
  const eventsList = document.getElementById("events");
  let chart = null;
  let refreshTimer = null;

  function setCount(name, value) {
    const card = root.querySelector(`[data-count="${name}"]`);
    if (!card) return;
    const node = card.querySelector(".value");
    const text = fmt(value);
    if (node.textContent !== text) {
      node.textContent = text;
      card.classList.remove("flash");
      void card.offsetWidth; // restart the animation
      card.classList.add("flash");
    }
  }

  function showCounts(p) {
    setCount("tasks", p.tasks);
    setCount("annotations", p.annotations);
    setCount("remaining_annotations", p.remaining_annotations);
    for (const [name, value] of Object.entries(p.counts || {})) setCount(name, value);
    const wanted = p.annotations + p.remaining_annotations;
    document.getElementById("overall-progress").value = wanted ? p.annotations / wanted : 0;
    document.getElementById("overall-text").textContent = wanted
      ? `${fmt(p.annotations)} of ${fmt(wanted)} annotations (${((p.annotations / wanted) * 100).toFixed(1)}%)` : "no tasks yet";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} days`;
  }

  function drawChart(series) {
    const labels = series.map((b) => new Date(b.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    const values = series.map((b) => b.annotations);
    const canvas = document.getElementById("throughput");
    if (window.Chart) {
      if (!chart) {
        chart = new window.Chart(canvas, {
          type: "bar",
          data: { labels, datasets: [{ label: "Annotations", data: values, backgroundColor: "#2952cc" }] },
          options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
            scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
        });
      } else {
        chart.data.labels = labels;
        chart.data.datasets[0].data = values;
        chart.update();
      }
      return;
    }
    // Without Chart.js (not installed): plain bars on the canvas.
    const ctx = canvas.getContext("2d");
    const width = (canvas.width = canvas.clientWidth || 400), height = (canvas.height = canvas.clientHeight || 200);
    const top = Math.max(1, ...values);
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = "#2952cc";
    const w = width / values.length;
    values.forEach((v, i) => { const h = (v / top) * (height - 20); ctx.fillRect(i * w + 1, height - h, w - 2, h); });
  }

  async function refresh() {
    const p = await api("GET", `/projects/${projectId}/progress`);
    showCounts(p);
    document.getElementById("rate").textContent = `${fmt(p.rate_per_hour)} / hour`;
    document.getElementById("lead").textContent = p.median_lead_time_ms === null ? "—" : duration(p.median_lead_time_ms / 1000);
    document.getElementById("eta").textContent = p.eta_seconds === 0 ? "done" : (p.eta ? `${new Date(p.eta).toLocaleString()} (${duration(p.eta_seconds)})` : "—");
    drawChart(p.annotations_per_hour || []);
  }

  /* Throughput and pace are not in the live messages: re-read them a moment after live changes. */
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; refresh().catch(() => {}); }, 1500);
  }

  function logEvent(text) {
    eventsList.prepend(el("li", { text: `${new Date().toLocaleTimeString()} — ${text}` }));
    while (eventsList.children.length > 12) eventsList.lastChild.remove();
  }

  function onMessage(message) {
    switch (message.type) {
      case "hello": status.textContent = "Live: counts update as work arrives."; status.dataset.kind = "ok"; break;
      case "progress": showCounts(message); refreshSoon(); break;
      case "annotation.created": logEvent(`annotation ${message.annotation} on task ${message.task} (${message.annotations_count}/${message.target_annotations})`); refreshSoon(); break;
      case "task.updated": logEvent(`task ${message.task} is ${message.status.replace("_", " ")}`); break;
      case "lease.expired": logEvent(`a lease on task ${message.task} expired`); break;
      case "job.finished": logEvent(`job ${message.job || ""} finished`); refreshSoon(); break;
      default: break;
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    let delay = 1000;
    function open() {
      const ws = new WebSocket(`${scheme}${window.location.host}/ws/projects/${projectId}/`);
      ws.addEventListener("open", () => { delay = 1000; });
      ws.addEventListener("message", (event) => { try { onMessage(JSON.parse(event.data)); } catch (e) { /* ignore */ } });
      ws.addEventListener("close", (event) => {
        if (event.code === 4401 || event.code === 4404) { status.textContent = "Live updates are not available for you here."; status.dataset.kind = "error"; return; }
        status.textContent = "Live updates lost; reconnecting…"; status.dataset.kind = "busy";
        setTimeout(open, delay); delay = Math.min(delay * 2, 30000);
      });
    }
    open();
  }

  refresh().catch((err) => { status.textContent = err.message; status.dataset.kind = "error"; });
  connect();
})();
