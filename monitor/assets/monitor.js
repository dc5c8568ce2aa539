// GoodRobot monitor: keeps the server-rendered pages live by polling the JSON API every
// 2 seconds. Everything is built with DOM calls and textContent (never innerHTML), so data
// cannot inject markup; the CSP allows no inline script, which is why this is a file.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var body = document.body;
  var page = body.getAttribute("data-page");
  var pollUrl = body.getAttribute("data-poll");
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // The server's format: UTC, "YYYY-MM-DD HH:MM:SS".
  function timeEl(iso) {
    if (!iso) return el("span", { class: "muted" }, ["—"]);
    var d = new Date(iso);
    var text = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    return el("time", { datetime: iso }, [text]);
  }

  function secs(s) {
    if (s === null || s === undefined) return "—";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 120) return s.toFixed(2) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function badge(state) {
    return el("span", { class: "state state-" + state.toLowerCase() }, [state]);
  }

  function td(children, cls) {
    return el("td", cls ? { class: cls } : {}, children);
  }

  function replaceRows(tbody, rows, emptyText, cols) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    if (rows.length === 0) {
      tbody.appendChild(el("tr", { class: "empty" }, [el("td", { colspan: cols }, [emptyText])]));
    }
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  function setText(id, text) {
    var e = document.getElementById(id);
    if (e) e.textContent = text;
  }

  function chart(rates) {
    var w = 12, h = 80, gap = 2;
    var max = 1;
    rates.per_minute.forEach(function (m) { max = Math.max(max, m.succeeded + m.failed); });
    var width = (w + gap) * rates.per_minute.length;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("id", "chart");
    svg.setAttribute("viewBox", "0 0 " + width + " " + h);
    svg.setAttribute("width", width * 3);
    svg.setAttribute("height", h * 2);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Tasks finished per minute");
    rates.per_minute.forEach(function (m, i) {
      var x = i * (w + gap);
      var ok = Math.floor(m.succeeded * h / max);
      var bad = Math.floor(m.failed * h / max);
      [["ok", h - ok, ok, m.succeeded + " succeeded"], ["bad", h - ok - bad, bad, m.failed + " failed"]].forEach(function (b) {
        var r = document.createElementNS(SVG, "rect");
        r.setAttribute("class", b[0]);
        r.setAttribute("x", x);
        r.setAttribute("y", b[1]);
        r.setAttribute("width", w);
        r.setAttribute("height", b[2]);
        var t = document.createElementNS(SVG, "title");
        t.textContent = m.start.substr(11, 5) + ": " + b[3];
        r.appendChild(t);
        svg.appendChild(r);
      });
    });
    return svg;
  }

  function renderOverview(o) {
    var wb = document.querySelector("#workers tbody");
    if (wb) {
      replaceRows(wb, o.workers.map(function (w) {
        return el("tr", { "data-worker": w.id, "data-processed": w.processed }, [
          td([el("a", { href: "/tasks?worker=" + encodeURIComponent(w.id) }, [w.id])]),
          td([w.host]), td([w.pid]), td([secs(w.uptime_secs)]), td([w.concurrency]),
          td([w.running]), td([w.processed]), td([w.failed]), td([timeEl(w.last_heartbeat)])
        ]);
      }), "No worker has sent a heartbeat recently.", 9);
    }
    setText("workers-count", String(o.workers.length));
    var qb = document.querySelector("#queues tbody");
    if (qb) {
      replaceRows(qb, o.queues.map(function (q) {
        return el("tr", { "data-queue": q.queue }, [
          td([el("a", { href: "/tasks?queue=" + encodeURIComponent(q.queue) }, [q.queue])]),
          td([q.ready]), td([q.delayed]), td([q.in_flight]), td([q.dead]),
          td([el("a", { class: "danger", href: "/queues/" + encodeURIComponent(q.queue) + "/purge" }, ["Purge…"])])
        ]);
      }), "", 6);
    }
    var r = o.rates;
    setText("throughput", r.throughput_per_min.toFixed(1));
    setText("failure-rate", (r.failure_rate * 100).toFixed(1) + "%");
    setText("finished", r.succeeded + " succeeded, " + r.failed + " failed, " + r.retried + " retried");
    var box = document.getElementById("chart-box");
    if (box) {
      while (box.firstChild) box.removeChild(box.firstChild);
      box.appendChild(chart(r));
    }
  }

  function argsPreview(v) {
    if (v === null || v === undefined) return "";
    var s = JSON.stringify(v);
    return s.length > 60 ? s.substr(0, 60) + "…" : s;
  }

  function renderTasks(p) {
    var tb = document.querySelector("#tasks tbody");
    if (!tb) return;
    replaceRows(tb, p.items.map(function (t) {
      return el("tr", { "data-task": t.task_id, "data-state": t.state }, [
        td([el("a", { href: "/tasks/" + t.task_id }, [t.task_id])], "mono"),
        td([t.name]), td([badge(t.state)]), td([t.queue]), td([t.worker || "—"]),
        td([timeEl(t.last_event_at)]), td([secs(t.runtime)]), td([t.retries]),
        td([argsPreview(t.args)], "mono args")
      ]);
    }), "No task matches.", 9);
    var pages = Math.max(1, Math.ceil(p.total / p.per_page));
    setText("page-info", "Page " + p.page + " of " + pages + " · " + p.total + " tasks (" + p.scanned +
      " in the event window)");
  }

  function renderTask(t) {
    var h = document.getElementById("task");
    if (!h) return;
    var shown = Date.parse(h.getAttribute("data-updated"));
    if (Date.parse(t.updated_at) !== shown) window.location.reload();
  }

  var renderers = { overview: renderOverview, tasks: renderTasks, task: renderTask };

  function live(ok) {
    var l = document.getElementById("live");
    if (l) l.className = ok ? "live" : "live stale";
  }

  function poll() {
    fetch(pollUrl, { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        if (resp.status === 401) {
          window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
          return null;
        }
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.json();
      })
      .then(function (data) {
        if (data === null) return;
        renderers[page](data);
        live(true);
      })
      .catch(function () { live(false); })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  if (pollUrl && renderers[page]) window.setTimeout(poll, POLL_MS);
})();
