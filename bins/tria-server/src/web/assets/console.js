/* Tria operator console: queue across the key's tenants, conversation view with handoff
 * summary, take over / hand back / reply, and a tenant dashboard drawn as inline SVG.
 * Vanilla JS, no build; data only through textContent and DOM attributes. */
(function () {
  "use strict";

  var KEY_STORE = "tria.console.key";
  var POLL_MS = 4000;
  var $ = function (id) { return document.getElementById(id); };
  var state = { key: null, me: null, selected: null, view: "queue", pollTimer: null, convSig: "" };
  try { state.key = sessionStorage.getItem(KEY_STORE); } catch (e) { /* ignore */ }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  var SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function setAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.setAttribute("class", v);
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
  }
  function append(node, children) {
    (children || []).forEach(function (c) { if (c !== null && c !== undefined && c !== false) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function ago(iso) {
    var s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return Math.round(s) + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    return new Date(iso).toLocaleDateString();
  }
  function label(s) { return String(s || "").replace(/_/g, " "); }
  // "Title › Heading", without repeating the title when the heading path starts with it.
  function citeLabel(title, heading) {
    title = title || ""; heading = heading || "";
    if (heading.indexOf(title + " › ") === 0) heading = heading.slice(title.length + 3);
    if (!heading || heading === title) return title;
    return title ? title + " › " + heading : heading;
  }

  // JSON in and out; `options.raw` (a File or Blob) is sent as is with `options.type`. A failed
  // call throws an Error with the body's `error.message`, its status and the body (a 422 report).
  async function api(path, options) {
    options = options || {};
    var headers = { authorization: "Bearer " + state.key };
    var payload;
    if (options.raw) { headers["content-type"] = options.type; payload = options.raw; }
    else if (options.body) { headers["content-type"] = "application/json"; payload = JSON.stringify(options.body); }
    var res = await fetch(path, { method: options.method || "GET", headers: headers, body: payload });
    var body = await res.json().catch(function () { return null; });
    if (!res.ok) {
      var err = new Error(body && body.error && body.error.message ? body.error.message : "HTTP " + res.status);
      err.status = res.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  // ---- sign in ----
  function showLogin(message) {
    $("login").hidden = false; $("app").hidden = true; $("tabs").hidden = true; $("signout").hidden = true;
    $("who").textContent = "";
    $("login-error").textContent = message || "";
    $("key").focus();
  }
  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    state.key = $("key").value.trim();
    start();
  });
  $("signout").addEventListener("click", function () {
    try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* ignore */ }
    state.key = null; clearTimeout(state.pollTimer);
    showLogin("Signed out.");
  });

  async function start() {
    if (!state.key) { showLogin(""); return; }
    try {
      state.me = await api("/api/v1/console/me");
    } catch (e) {
      try { sessionStorage.removeItem(KEY_STORE); } catch (e2) { /* ignore */ }
      showLogin(e.status === 403 ? "That key cannot open the console (it needs an operator or admin key)." : e.status === 401 ? "Unknown or revoked key." : e.message);
      return;
    }
    try { sessionStorage.setItem(KEY_STORE, state.key); } catch (e) { /* ignore */ }
    $("key").value = "";
    $("login").hidden = true; $("app").hidden = false; $("tabs").hidden = false; $("signout").hidden = false;
    $("who").textContent = state.me.role + " · " + state.me.tenants.map(function (t) { return t.name; }).join(", ");
    [$("f-tenant"), $("d-tenant")].forEach(function (sel, i) {
      clear(sel);
      if (i === 0) sel.appendChild(el("option", { value: "", text: "All clients" }));
      state.me.tenants.forEach(function (t) { sel.appendChild(el("option", { value: t.slug, text: t.name })); });
    });
    $("tab-clients").hidden = state.me.role !== "admin";
    show(location.hash === "#dashboard" ? "dash" : location.hash === "#clients" && state.me.role === "admin" ? "clients" : "queue");
    tick();
  }

  // ---- tabs ----
  function show(view) {
    state.view = view;
    $("queue-view").hidden = view !== "queue";
    $("dash-view").hidden = view !== "dash";
    $("clients-view").hidden = view !== "clients";
    $("tab-queue").setAttribute("aria-pressed", String(view === "queue"));
    $("tab-dash").setAttribute("aria-pressed", String(view === "dash"));
    $("tab-clients").setAttribute("aria-pressed", String(view === "clients"));
    if (view === "dash") loadDashboard(); else if (view === "clients") loadClients(); else loadQueue();
  }
  $("tab-queue").addEventListener("click", function () { history.replaceState(null, "", "#queue"); show("queue"); });
  $("tab-dash").addEventListener("click", function () { history.replaceState(null, "", "#dashboard"); show("dash"); });
  $("tab-clients").addEventListener("click", function () { history.replaceState(null, "", "#clients"); show("clients"); });
  $("f-status").addEventListener("change", loadQueue);
  $("f-tenant").addEventListener("change", loadQueue);
  $("d-tenant").addEventListener("change", loadDashboard);
  $("d-days").addEventListener("change", loadDashboard);

  function tick() {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(async function () {
      if (document.visibilityState !== "hidden" && state.key) {
        if (state.view === "queue") { await loadQueue(); if (state.selected) await loadConversation(state.selected, true); }
      }
      tick();
    }, POLL_MS);
  }

  // ---- queue ----
  async function loadQueue() {
    var q = [];
    if ($("f-status").value) q.push("status=" + encodeURIComponent($("f-status").value));
    if ($("f-tenant").value) q.push("tenant=" + encodeURIComponent($("f-tenant").value));
    var body;
    try { body = await api("/api/v1/console/conversations" + (q.length ? "?" + q.join("&") : "")); }
    catch (e) { $("queue-meta").textContent = "Could not load the queue: " + e.message; return; }
    var list = $("queue");
    clear(list);
    $("queue-meta").textContent = body.conversations.length + " conversation" + (body.conversations.length === 1 ? "" : "s") + " · updated " + new Date().toLocaleTimeString();
    body.conversations.forEach(function (c) {
      var tags = [
        el("span", { class: "c-tag c-client", text: c.tenant ? c.tenant.name : "?" }),
        el("span", { class: "c-tag c-status-" + c.status, text: label(c.status) }),
        c.handoff && c.status !== "handed_off" ? el("span", { class: "c-tag c-handoff", text: "handoff requested" }) : null,
        c.intent ? el("span", { class: "c-tag", text: label(c.intent) }) : null,
        el("span", { class: "c-tag c-sent-" + c.sentiment, text: c.sentiment }),
      ];
      var btn = el("button", { type: "button", class: "c-item" + (state.selected === c.id ? " c-selected" : ""), "aria-current": state.selected === c.id ? "true" : null,
        "data-id": c.id, onclick: function () { state.selected = c.id; state.convSig = ""; loadQueue(); loadConversation(c.id, false); } }, [
        el("div", { class: "c-tags" }, tags),
        el("div", { class: "c-preview", text: c.preview || "(no messages)" }),
        el("div", { class: "c-muted c-small", text: c.messages + " messages · " + ago(c.updated_at) }),
      ]);
      list.appendChild(el("li", null, [btn]));
    });
  }

  // ---- conversation ----
  async function loadConversation(id, background) {
    var body;
    try { body = await api("/api/v1/console/conversations/" + encodeURIComponent(id)); }
    catch (e) { if (!background) { var c0 = $("conv"); clear(c0); c0.appendChild(el("p", { class: "c-error", text: e.message })); } return; }
    // Re-render only when something changed, so a half-typed reply is not lost.
    var sig = body.conversation.status + "|" + body.messages.length + "|" + body.messages.map(function (m) { return m.feedback || ""; }).join("");
    if (background && sig === state.convSig) return;
    state.convSig = sig;
    var draft = $("op-text") ? $("op-text").value : "";
    var conv = $("conv");
    clear(conv);
    var c = body.conversation, s = body.summary;
    var handedOff = c.status === "handed_off";
    conv.appendChild(el("header", { class: "c-conv-head" }, [
      el("div", null, [
        el("h2", { text: (c.tenant ? c.tenant.name : "") + " · conversation " + c.id.slice(0, 8) }),
        el("div", { class: "c-tags" }, [el("span", { class: "c-tag c-status-" + c.status, text: label(c.status) }),
          c.resolution ? el("span", { class: "c-tag", text: label(c.resolution) }) : null,
          el("span", { class: "c-tag", text: c.channel })]),
      ]),
      el("div", { class: "c-actions" }, [
        handedOff
          ? el("button", { type: "button", id: "hand-back", class: "c-secondary", onclick: function () { act(c.id, "hand-back"); } }, ["Hand back to bot"])
          : el("button", { type: "button", id: "take-over", class: "c-primary", onclick: function () { act(c.id, "take-over"); } }, ["Take over"]),
      ]),
    ]));

    conv.appendChild(el("section", { class: "c-summary", "aria-label": "Handoff summary" }, [
      el("h3", { text: "Handoff summary" }),
      el("dl", null, [
        el("dt", { text: "Customer wants" }), el("dd", null, s.customer_wants.length ? s.customer_wants.map(function (w) { return el("p", { text: w }); }) : [el("p", { class: "c-muted", text: "—" })]),
        el("dt", { text: "Bot did" }), el("dd", null, s.bot_did.length ? [el("ul", null, s.bot_did.map(function (d) { return el("li", { text: d }); }))] : [el("p", { class: "c-muted", text: "Nothing yet" })]),
        el("dt", { text: "Why a person" }), el("dd", { text: s.reason || "—" }),
        el("dt", { text: "Sentiment" }), el("dd", null, [el("span", { class: "c-tag c-sent-" + s.sentiment, text: s.sentiment })]),
      ]),
    ]));

    var transcript = el("ol", { class: "c-transcript", "aria-label": "Transcript" });
    body.messages.forEach(function (m) {
      var parts = [el("div", { class: "c-msg-head" }, [
        el("strong", { text: m.role === "user" ? "Customer" : m.role === "operator" ? "Operator" : m.role === "assistant" ? "Bot" : m.role }),
        m.intent ? el("span", { class: "c-tag", text: label(m.intent) + (m.confidence != null ? " " + Number(m.confidence).toFixed(2) : "") }) : null,
        m.cache && m.cache !== "none" ? el("span", { class: "c-tag", text: "cache " + m.cache }) : null,
        m.feedback ? el("span", { class: "c-tag c-fb-" + m.feedback, text: m.feedback === "up" ? "rated helpful" : "rated not helpful" }) : null,
        el("span", { class: "c-muted c-small", text: new Date(m.created_at).toLocaleTimeString() }),
      ]), el("div", { class: "c-msg-text", text: m.content })];
      if (m.citations && m.citations.length) {
        parts.push(el("details", { class: "c-cite" }, [el("summary", { text: "Sources (" + m.citations.length + ")" }),
          el("ol", null, m.citations.map(function (x) {
            return el("li", null, [el("strong", { text: citeLabel(x.title, x.heading) }), x.excerpt ? el("p", { class: "c-excerpt", text: x.excerpt }) : null]);
          }))]));
      }
      if (m.notes && m.notes.length) {
        parts.push(el("ul", { class: "c-notes", "aria-label": "Validation notes" }, m.notes.map(function (n) { return el("li", { text: n }); })));
      }
      transcript.appendChild(el("li", { class: "c-msg c-" + m.role }, parts));
    });
    conv.appendChild(transcript);

    var text = el("textarea", { id: "op-text", rows: "3", maxlength: "4000", disabled: !handedOff, placeholder: handedOff ? "Write to the customer…" : "Take the conversation over to reply." });
    text.value = draft;
    var form = el("form", { class: "c-reply", "aria-label": "Reply to the customer" }, [
      el("label", { for: "op-text", text: "Reply as operator" }), text,
      el("div", { class: "c-reply-row" }, [el("button", { type: "submit", id: "op-send", class: "c-primary", disabled: !handedOff }, ["Send to customer"]),
        el("span", { id: "op-status", class: "c-small c-muted", role: "status" })]),
    ]);
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      var content = text.value.trim();
      if (!content) return;
      try {
        await api("/api/v1/console/conversations/" + encodeURIComponent(c.id) + "/messages", { method: "POST", body: { content: content } });
        text.value = "";
        state.convSig = "";
        await loadConversation(c.id, false);
        var st = $("op-status"); if (st) st.textContent = "Sent.";
        $("op-text").focus();
      } catch (err) { $("op-status").textContent = err.message; }
    });
    conv.appendChild(form);
    if (c.status !== "handed_off" && !background) { /* keep focus where the operator is */ }
  }

  async function act(id, action) {
    try {
      await api("/api/v1/console/conversations/" + encodeURIComponent(id) + "/" + action, { method: "POST" });
      state.convSig = "";
      await loadConversation(id, false);
      await loadQueue();
      var focus = action === "take-over" ? $("op-text") : $("take-over");
      if (focus) focus.focus();
    } catch (e) { alertInConv(e.message); }
  }
  function alertInConv(text) { $("conv").insertBefore(el("p", { class: "c-error", role: "alert", text: text }), $("conv").firstChild); }

  // ---- dashboard (inline SVG charts) ----
  var COLORS = { user: "#1f5fbf", assistant: "#7aa6e8", operator: "#f0a830",
    resolved_verified: "#2e7d32", resolved_assumed: "#8bc34a", handed_off: "#f0a830", abandoned: "#c62828", unresolved: "#b0b7c3",
    l1: "#1f5fbf", l2: "#4f86d9", l3: "#8fb3ea", none: "#c9ced8", up: "#2e7d32", down: "#c62828", spent: "#c62828", saved: "#2e7d32" };

  function card(title, body, wide) {
    return el("section", { class: "c-card c-chart" + (wide ? " c-wide" : ""), "aria-label": title }, [el("h3", { text: title })].concat(body));
  }
  function kpi(title, value, sub) {
    return el("section", { class: "c-card c-kpi", "aria-label": title }, [el("h3", { text: title }), el("div", { class: "c-kpi-value", text: value }), sub ? el("div", { class: "c-muted c-small", text: sub }) : null]);
  }
  function legend(items) {
    return el("ul", { class: "c-legend" }, items.map(function (i) {
      return el("li", null, [svg("svg", { width: 12, height: 12, "aria-hidden": "true" }, [svg("rect", { width: 12, height: 12, rx: 2, fill: i.color })]), " " + i.label]);
    }));
  }

  // Stacked columns: one per day, series stacked.
  function stackedColumns(days, series, title) {
    var W = 960, H = 240, padL = 40, padB = 26, padT = 10;
    var peak = Math.max.apply(null, days.map(function (d) { return series.reduce(function (a, s) { return a + (d[s] || 0); }, 0); }));
    var max = Math.max(4, Math.ceil(peak / 4) * 4); // four whole-number gridlines
    var bw = (W - padL - 10) / days.length;
    var g = [];
    for (var t = 0; t <= 4; t++) {
      var y = padT + (H - padT - padB) * (1 - t / 4);
      g.push(svg("line", { x1: padL, x2: W - 6, y1: y, y2: y, stroke: "#e4e8ef" }));
      g.push(svg("text", { x: padL - 6, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#6b7280", text: String(max * t / 4) }));
    }
    days.forEach(function (d, i) {
      var x = padL + i * bw + bw * 0.15, acc = 0;
      series.forEach(function (s) {
        var v = d[s] || 0; if (!v) return;
        var h = (H - padT - padB) * v / max;
        var y = H - padB - (H - padT - padB) * acc / max - h;
        g.push(svg("rect", { x: x, y: y, width: bw * 0.7, height: h, fill: COLORS[s], rx: 2 }, [svg("title", { text: d.date + ": " + v + " " + s })]));
        acc += v;
      });
      if (days.length <= 16 || i % 2 === 0) g.push(svg("text", { x: x + bw * 0.35, y: H - 8, "text-anchor": "middle", "font-size": 12, fill: "#6b7280", text: String(d.date).slice(5) }));
    });
    return svg("svg", { viewBox: "0 0 " + W + " " + H, class: "c-svg", role: "img", "aria-label": title }, g);
  }

  // Horizontal bars with value labels.
  function hbars(items, title, format) {
    var W = 420, row = 28, H = items.length * row + 8, padL = 120;
    var max = Math.max(1e-9, Math.max.apply(null, items.map(function (i) { return i.value; })));
    var g = [];
    items.forEach(function (it, i) {
      var y = 4 + i * row, w = (W - padL - 70) * it.value / max;
      g.push(svg("text", { x: padL - 8, y: y + 17, "text-anchor": "end", "font-size": 12, fill: "#374151", text: it.label }));
      g.push(svg("rect", { x: padL, y: y + 4, width: Math.max(it.value > 0 ? 2 : 0, w), height: row - 10, fill: it.color, rx: 3 }, [svg("title", { text: it.label + ": " + (format ? format(it.value) : it.value) })]));
      g.push(svg("text", { x: padL + w + 6, y: y + 17, "font-size": 12, fill: "#111827", text: format ? format(it.value) : String(it.value) }));
    });
    return svg("svg", { viewBox: "0 0 " + W + " " + H, class: "c-svg", role: "img", "aria-label": title }, g);
  }

  // Donut with the total in the middle.
  function donut(items, title) {
    var R = 60, r = 38, C = 80, total = items.reduce(function (a, i) { return a + i.value; }, 0);
    var g = [], angle = -Math.PI / 2;
    if (!total) g.push(svg("circle", { cx: C, cy: C, r: (R + r) / 2, fill: "none", stroke: "#e4e8ef", "stroke-width": R - r }));
    items.forEach(function (it) {
      if (!it.value) return;
      var a2 = angle + 2 * Math.PI * it.value / total;
      if (it.value === total) {
        g.push(svg("circle", { cx: C, cy: C, r: (R + r) / 2, fill: "none", stroke: it.color, "stroke-width": R - r }, [svg("title", { text: it.label + ": " + it.value })]));
      } else {
        var large = a2 - angle > Math.PI ? 1 : 0;
        var p = function (rad, a) { return (C + rad * Math.cos(a)).toFixed(2) + " " + (C + rad * Math.sin(a)).toFixed(2); };
        g.push(svg("path", { d: "M " + p(R, angle) + " A " + R + " " + R + " 0 " + large + " 1 " + p(R, a2) + " L " + p(r, a2) + " A " + r + " " + r + " 0 " + large + " 0 " + p(r, angle) + " Z", fill: it.color }, [svg("title", { text: it.label + ": " + it.value })]));
      }
      angle = a2;
    });
    g.push(svg("text", { x: C, y: C + 6, "text-anchor": "middle", "font-size": 18, "font-weight": 700, fill: "#111827", text: String(total) }));
    return svg("svg", { viewBox: "0 0 160 160", class: "c-svg c-donut", role: "img", "aria-label": title }, g);
  }

  function usd(v) { return "$" + Number(v || 0).toFixed(v >= 1 ? 2 : 4); }
  function pct(v) { return Math.round((v || 0) * 100) + "%"; }

  async function loadDashboard() {
    var slug = $("d-tenant").value;
    var dash = $("dash");
    if (!slug) { clear(dash); dash.appendChild(el("p", { class: "c-muted", text: "No client assigned." })); return; }
    var d;
    try { d = await api("/api/v1/console/dashboard?tenant=" + encodeURIComponent(slug) + "&days=" + encodeURIComponent($("d-days").value)); }
    catch (e) { clear(dash); dash.appendChild(el("p", { class: "c-error", text: e.message })); return; }
    clear(dash);
    var totalReplies = d.latency_ms.replies;
    var fbTotal = d.feedback.up + d.feedback.down;
    dash.appendChild(kpi("p95 reply latency", d.latency_ms.p95 + " ms", "p50 " + d.latency_ms.p50 + " ms · " + totalReplies + " replies"));
    dash.appendChild(kpi("Open escalations", String(d.escalations_open), "waiting for a person"));
    dash.appendChild(kpi("Thumbs up", fbTotal ? pct(d.feedback.up / fbTotal) : "—", d.feedback.up + " up · " + d.feedback.down + " down"));
    dash.appendChild(kpi("Cache hit rate", pct(d.cache.hit_rate), "live, since the server started"));

    dash.appendChild(card("Messages per day", [stackedColumns(d.messages_per_day, ["user", "assistant", "operator"], "Messages per day, by sender"),
      legend([{ label: "customer", color: COLORS.user }, { label: "bot", color: COLORS.assistant }, { label: "operator", color: COLORS.operator }])], true));

    var res = ["resolved_verified", "resolved_assumed", "handed_off", "abandoned", "unresolved"].map(function (k) { return { label: label(k), value: d.resolutions[k] || 0, color: COLORS[k] }; });
    dash.appendChild(card("Resolutions", [el("div", { class: "c-donut-row" }, [donut(res, "Conversations by resolution"), legend(res.map(function (r) { return { label: r.label + " (" + r.value + ")", color: r.color }; }))])]));

    dash.appendChild(card("Thumbs from the widget", [hbars([{ label: "helpful", value: d.feedback.up, color: COLORS.up }, { label: "not helpful", value: d.feedback.down, color: COLORS.down }], "Feedback counts")]));

    var lv = ["l1", "l2", "l3", "none"].map(function (k) { return { label: k === "none" ? "generated" : k.toUpperCase(), value: d.replies_by_cache_level[k] || 0, color: COLORS[k] }; });
    var live = (d.cache.levels || []).filter(function (l) { return l.enabled && l.level !== "l4"; }).map(function (l) { return { label: l.level.toUpperCase() + " hit rate", value: l.hit_rate, color: COLORS[l.level] || "#8fb3ea" }; });
    dash.appendChild(card("Cache: replies by level", [hbars(lv, "Replies by cache level"),
      live.length ? el("h4", { text: "Live hit rate per level" }) : null, live.length ? hbars(live, "Hit rate per cache level", pct) : null]));

    dash.appendChild(card("Spent vs saved", [hbars([{ label: "$ spent (LLM)", value: d.tokens.spent_usd, color: COLORS.spent }, { label: "$ saved (cache)", value: d.tokens.saved_usd, color: COLORS.saved }], "Dollars spent against saved", usd),
      el("p", { class: "c-muted c-small", text: "From the cost ledger: " + d.tokens.calls + " model calls (" + d.tokens.wasted_calls + " not used) · " + (d.tokens.in + d.tokens.out) + " tokens (" + d.tokens.cached_in + " prompt-cached) · " + d.tokens.cache_hits + " cache hits · $" + d.tokens.ledger.cost_usd + " spent, $" + d.tokens.ledger.saved_usd + " saved" })]));

    var breakers = d.breakers.length
      ? el("ul", { class: "c-breakers" }, d.breakers.map(function (b) {
        return el("li", null, [svg("svg", { width: 12, height: 12, "aria-hidden": "true" }, [svg("circle", { cx: 6, cy: 6, r: 6, fill: b.state === "ok" ? "#2e7d32" : b.state === "degraded" ? "#f0a830" : "#c62828" })]),
          " " + b.name + ": " + b.state + (b.detail ? " — " + b.detail : "")]);
      }))
      : el("p", { class: "c-muted", text: "No integrations configured: nothing to break." });
    dash.appendChild(card("Integration breakers", [breakers, el("p", { class: "c-muted c-small", text: "Cache: " + d.cache.health })]));
  }

  // ---- clients (admin keys): onboard a client through the admin API ----
  var DOC_TYPES = { md: "text/markdown", markdown: "text/markdown", txt: "text/plain", html: "text/html", htm: "text/html", pdf: "application/pdf" };
  var DATA_TYPES = { csv: "text/csv", json: "application/json" };
  var JOB_POLL_MS = 1000;
  var clients = { slug: null, jobs: [] };

  function extension(name) { var i = name.lastIndexOf("."); return i < 0 ? "" : name.slice(i + 1).toLowerCase(); }
  // "Returns Policy (2024).md" -> "returns-policy-2024": what the document is replaced under.
  function docId(name) {
    var base = name.lastIndexOf(".") > 0 ? name.slice(0, name.lastIndexOf(".")) : name;
    return base.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[-.]+|-+$/g, "").slice(0, 128) || "document";
  }
  function bytes(n) { return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KB" : (n / 1048576).toFixed(1) + " MB"; }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
  function clientPath(rest) { return "/admin/tenants/" + encodeURIComponent(clients.slug) + rest; }
  function errorBox(err) {
    var box = el("div", { class: "c-error", role: "alert" }, [el("p", { text: err.message })]);
    var report = err.body && err.body.error && Array.isArray(err.body.error.rows) ? err.body.error : null;
    if (report) box.appendChild(reportTable(report));
    return box;
  }
  // The 422 bad-row report: one line per problem.
  function reportTable(report) {
    var rows = [];
    report.rows.forEach(function (r) {
      var where = r.line != null ? "line " + r.line : r.index != null ? "item " + r.index : "";
      (r.problems && r.problems.length ? r.problems : [{ reason: "" }]).forEach(function (p) {
        rows.push(el("tr", null, [el("td", { text: where }), el("td", { text: r.key || "" }), el("td", { text: p.column || "(row)" }), el("td", { text: p.reason })]));
      });
    });
    return el("div", { class: "c-report" }, [
      el("table", { class: "c-table", "aria-label": "Validation report" }, [
        el("thead", null, [el("tr", null, [el("th", { text: "Line" }), el("th", { text: "Key" }), el("th", { text: "Column" }), el("th", { text: "Reason" })])]),
        el("tbody", null, rows),
      ]),
      report.truncated ? el("p", { class: "c-small", text: "Showing " + report.rows.length + " of " + report.total + " bad rows." }) : null,
    ]);
  }
  // A drop area with a file picker inside: `onFiles` gets the dropped or chosen files.
  function dropZone(id, text, accept, multiple, onFiles) {
    var input = el("input", { type: "file", id: id + "-input", class: "c-file", accept: accept, multiple: multiple });
    input.addEventListener("change", function () { var f = Array.prototype.slice.call(input.files); input.value = ""; if (f.length) onFiles(f); });
    var zone = el("div", { id: id, class: "c-drop" }, [
      el("p", { text: text }),
      el("label", { for: id + "-input", class: "c-secondary c-pick" }, ["Choose files"]), input,
    ]);
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("c-drop-over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("c-drop-over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault(); zone.classList.remove("c-drop-over");
      var f = Array.prototype.slice.call((e.dataTransfer && e.dataTransfer.files) || []);
      if (f.length) onFiles(f);
    });
    return zone;
  }
  function section(id, title, children) {
    return el("section", { id: id, class: "c-card c-client-card", "aria-labelledby": id + "-title" }, [el("h3", { id: id + "-title", text: title })].concat(children));
  }

  async function loadClients() {
    var list = $("client-list");
    var body;
    try { body = await api("/admin/tenants"); }
    catch (e) { clear(list); list.appendChild(el("li", null, [errorBox(e)])); return; }
    clear(list);
    body.tenants.forEach(function (t) {
      list.appendChild(el("li", null, [el("button", { type: "button", class: "c-item" + (clients.slug === t.slug ? " c-selected" : ""), "data-slug": t.slug,
        "aria-current": clients.slug === t.slug ? "true" : null, onclick: function () { selectClient(t); } }, [
        el("strong", { text: t.name }), el("span", { class: "c-muted c-small", text: t.slug }),
      ])]));
    });
  }

  $("nc-name").addEventListener("input", function () {
    if (!$("nc-slug").dataset.edited) $("nc-slug").value = docId($("nc-name").value).replace(/[._]/g, "-").slice(0, 64);
  });
  $("nc-slug").addEventListener("input", function () { $("nc-slug").dataset.edited = "1"; });
  $("new-client").addEventListener("submit", async function (e) {
    e.preventDefault();
    var body = { name: $("nc-name").value.trim(), slug: $("nc-slug").value.trim() };
    if ($("nc-currency").value.trim()) body.currency = $("nc-currency").value.trim().toUpperCase();
    $("nc-status").className = "c-small"; $("nc-status").textContent = "Creating…";
    try {
      var t = await api("/admin/tenants", { method: "POST", body: body });
      $("nc-status").textContent = "Created " + t.name + ".";
      $("new-client").reset(); delete $("nc-slug").dataset.edited;
      await selectClient(t);
    } catch (err) { $("nc-status").className = "c-small c-error"; $("nc-status").textContent = err.message; }
  });

  async function selectClient(t) {
    clients.slug = t.slug;
    clients.jobs = [];
    var pane = $("client");
    clear(pane);
    pane.appendChild(el("header", { class: "c-conv-head" }, [el("div", null, [el("h2", { text: t.name }), el("span", { class: "c-tag", text: t.slug })])]));
    pane.appendChild(el("div", { class: "c-client-grid" }, [
      section("c-docs", "Knowledge documents", [
        dropZone("doc-drop", "Drop policies, FAQs and help articles here (.md, .txt, .html, .pdf). A file replaces the document of the same name.", ".md,.markdown,.txt,.html,.htm,.pdf", true, uploadDocuments),
        el("div", { id: "doc-status" }), el("ul", { id: "jobs", class: "c-jobs", "aria-label": "Jobs" }), el("div", { id: "docs" }),
      ]),
      section("c-versions", "Knowledge versions", [el("div", { id: "versions" })]),
      section("c-catalogue", "Catalogue", [importControls("catalogue", "Drop the catalogue here (.csv or .json; sku, name, price).")]),
      section("c-customers", "Customers", [importControls("customers", "Drop the customers here (.csv or .json; customer_number, email).")]),
      section("c-key", "API key", [
        el("p", { class: "c-small c-muted", text: "The key the client's own systems call the chat API with. It is shown once." }),
        el("button", { type: "button", id: "create-key", class: "c-secondary", onclick: createKey }, ["Create tenant key"]), el("div", { id: "key-out" }),
      ]),
      section("c-xero", "Xero", [
        el("p", { class: "c-small c-muted", text: "Invoices go to the client's own Xero organisation once it is connected." }),
        el("button", { type: "button", id: "connect-xero", class: "c-secondary", onclick: connectXero }, ["Connect Xero"]), el("div", { id: "xero-out" }),
      ]),
    ]));
    loadClients();
    await Promise.all([loadDocuments(), loadVersions()]);
  }

  async function loadDocuments() {
    var slug = clients.slug, out = $("docs");
    var body;
    try { body = await api(clientPath("/documents")); } catch (e) { if (out) { clear(out); out.appendChild(errorBox(e)); } return; }
    if (slug !== clients.slug || !(out = $("docs"))) return;
    clear(out);
    if (!body.documents.length) { out.appendChild(el("p", { class: "c-muted", text: "No documents yet." })); return; }
    out.appendChild(el("table", { class: "c-table", "aria-label": "Documents" }, [
      el("thead", null, [el("tr", null, ["Document", "Title", "Version", "Size", "Chunks", "Indexed", ""].map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", null, body.documents.map(function (d) {
        return el("tr", { "data-doc": d.doc_id }, [el("td", null, [el("code", { text: d.doc_id })]), el("td", { text: d.title }), el("td", { text: "v" + d.version }),
          el("td", { text: bytes(d.size_bytes) }), el("td", { text: String(d.chunks) }), el("td", { text: when(d.indexed_at) }),
          el("td", null, [el("button", { type: "button", class: "c-link c-danger", "aria-label": "Delete " + d.doc_id, onclick: function () { deleteDocument(d.doc_id); } }, ["Delete"])])]);
      })),
    ]));
  }

  async function loadVersions() {
    var slug = clients.slug, out = $("versions");
    var body;
    try { body = await api(clientPath("/knowledge/versions")); } catch (e) { if (out) { clear(out); out.appendChild(errorBox(e)); } return; }
    if (slug !== clients.slug || !(out = $("versions"))) return;
    clear(out);
    if (!body.versions.length) { out.appendChild(el("p", { class: "c-muted", text: "No versions yet: the first indexed document makes version 1." })); return; }
    out.appendChild(el("table", { class: "c-table", "aria-label": "Knowledge versions" }, [
      el("thead", null, [el("tr", null, ["Version", "What changed", "Documents", "Created", ""].map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", null, body.versions.map(function (v) {
        return el("tr", { "data-version": v.version, class: v.current ? "c-current" : null }, [el("td", { text: "v" + v.version }), el("td", { text: v.summary }),
          el("td", { text: String(v.documents) }), el("td", { text: when(v.created_at) }),
          el("td", null, [v.current ? el("span", { class: "c-tag c-status-open", text: "serving" })
            : el("button", { type: "button", class: "c-secondary c-small-btn", onclick: function () { rollback(v.version); } }, ["Roll back to v" + v.version])])]);
      })),
    ]));
  }

  async function uploadDocuments(files) {
    var status = $("doc-status");
    clear(status);
    for (var i = 0; i < files.length; i++) {
      var f = files[i], type = DOC_TYPES[extension(f.name)];
      if (!type) { status.appendChild(el("p", { class: "c-error", role: "alert", text: f.name + ": not a document type Tria reads (.md, .txt, .html or .pdf)." })); continue; }
      var id = docId(f.name);
      try {
        var body = await api(clientPath("/documents/" + encodeURIComponent(id)), { method: "PUT", raw: f, type: type });
        trackJob(body.job, f.name + " → " + id);
      } catch (e) { var box = errorBox(e); box.insertBefore(el("strong", { text: f.name }), box.firstChild); status.appendChild(box); }
    }
  }

  function trackJob(job, what) {
    var entry = { id: job.id, what: what, job: job, slug: clients.slug };
    clients.jobs.unshift(entry);
    renderJobs();
    pollJob(entry);
  }
  async function pollJob(entry) {
    while (entry.job.status === "queued" || entry.job.status === "running") {
      await new Promise(function (r) { setTimeout(r, JOB_POLL_MS); });
      if (entry.slug !== clients.slug || !state.key) return;
      try { entry.job = await api("/admin/jobs/" + encodeURIComponent(entry.id)); }
      catch (e) { entry.error = e.message; renderJobs(); return; }
      renderJobs();
    }
    if (entry.slug === clients.slug) { await loadDocuments(); await loadVersions(); }
  }
  function renderJobs() {
    var list = $("jobs");
    if (!list) return;
    clear(list);
    clients.jobs.forEach(function (entry) {
      var j = entry.job, p = j.progress || {};
      var total = Math.max(p.total || 0, 1), done = Math.min(p.done || 0, total);
      var errors = Array.isArray(j.errors) ? j.errors.map(function (x) { return x && x.message ? (x.code ? x.code + ": " : "") + x.message : JSON.stringify(x); }) : [];
      list.appendChild(el("li", { class: "c-job", "data-job": j.id, "data-status": j.status }, [
        el("div", { class: "c-job-head" }, [el("span", { text: entry.what }), el("span", { class: "c-tag c-job-" + j.status, text: j.status })]),
        el("progress", { max: String(total), value: String(j.status === "succeeded" ? total : done), "aria-label": entry.what + " progress" }),
        entry.error ? el("p", { class: "c-error", text: entry.error }) : null,
        errors.length ? el("ul", { class: "c-error c-small" }, errors.map(function (m) { return el("li", { text: m }); })) : null,
      ]));
    });
  }

  async function deleteDocument(id) {
    try { await api(clientPath("/documents/" + encodeURIComponent(id)), { method: "DELETE" }); }
    catch (e) { var s = $("doc-status"); clear(s); s.appendChild(errorBox(e)); return; }
    await loadDocuments(); await loadVersions();
  }

  async function rollback(version) {
    var out = $("versions");
    try { await api(clientPath("/knowledge/rollback"), { method: "POST", body: { version: version } }); }
    catch (e) { out.insertBefore(errorBox(e), out.firstChild); return; }
    await loadVersions(); await loadDocuments();
    $("versions").insertBefore(el("p", { class: "c-ok", role: "status", text: "Serving v" + version + " again." }), $("versions").firstChild);
  }

  // Catalogue or customers: a mode and a drop area; the counts, or the bad-row report.
  function importControls(kind, text) {
    var mode = el("select", { id: kind + "-mode", "aria-label": kind + " upload mode" }, [
      el("option", { value: "merge", text: "Merge (keep rows not in the file)" }), el("option", { value: "replace", text: "Replace (retire rows not in the file)" })]);
    var out = el("div", { id: kind + "-out" });
    var zone = dropZone(kind + "-drop", text, ".csv,.json", false, async function (files) {
      var f = files[0], type = DATA_TYPES[extension(f.name)];
      clear(out);
      if (!type) { out.appendChild(el("p", { class: "c-error", role: "alert", text: f.name + ": send a .csv or .json file." })); return; }
      out.appendChild(el("p", { class: "c-muted", text: "Uploading " + f.name + "…" }));
      try {
        var r = await api(clientPath("/" + kind + "?mode=" + encodeURIComponent(mode.value)), { method: "PUT", raw: f, type: type });
        clear(out);
        out.appendChild(el("p", { class: "c-ok", role: "status", text: f.name + ": " + r.imported + " rows imported (" + r.created + " new, " + r.updated + " updated, " +
          r.unchanged + " unchanged" + (r.deactivated ? ", " + r.deactivated + " retired" : "") + ")." }));
        if (r.unknown_columns && r.unknown_columns.length) out.appendChild(el("p", { class: "c-small c-muted", text: "Ignored columns: " + r.unknown_columns.join(", ") }));
      } catch (e) {
        clear(out);
        var box = errorBox(e); box.insertBefore(el("strong", { text: f.name }), box.firstChild); out.appendChild(box);
      }
    });
    return el("div", null, [el("label", { class: "c-mode" }, ["Mode ", mode]), zone, out]);
  }

  async function createKey() {
    var out = $("key-out");
    clear(out);
    try {
      var k = await api("/admin/keys", { method: "POST", body: { role: "tenant", tenant: clients.slug, label: clients.slug + " (console)" } });
      out.appendChild(el("p", { class: "c-small", text: "Copy it now; it is not shown again:" }));
      out.appendChild(el("code", { class: "c-secret", id: "new-key", text: k.key }));
    } catch (e) { out.appendChild(errorBox(e)); }
  }

  async function connectXero() {
    var out = $("xero-out");
    clear(out);
    try {
      var r = await api(clientPath("/integrations/xero/connect"));
      if (!r || typeof r.authorize_url !== "string" || !/^https?:\/\//.test(r.authorize_url)) throw new Error("the server gave no authorize URL");
      window.open(r.authorize_url, "_blank", "noopener");
      out.appendChild(el("p", { class: "c-small", text: "Finish in the Xero window that opened; the connection shows here after Xero sends the client back." }));
    } catch (e) { out.appendChild(errorBox(e)); }
  }

  start();
})();
