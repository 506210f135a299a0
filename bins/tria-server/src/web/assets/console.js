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

  async function api(path, options) {
    options = options || {};
    var headers = { authorization: "Bearer " + state.key };
    if (options.body) headers["content-type"] = "application/json";
    var res = await fetch(path, { method: options.method || "GET", headers: headers, body: options.body ? JSON.stringify(options.body) : undefined });
    var body = await res.json().catch(function () { return null; });
    if (!res.ok) {
      var err = new Error(body && body.error ? body.error.message : "HTTP " + res.status);
      err.status = res.status;
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
    show(location.hash === "#dashboard" ? "dash" : "queue");
    tick();
  }

  // ---- tabs ----
  function show(view) {
    state.view = view;
    $("queue-view").hidden = view !== "queue";
    $("dash-view").hidden = view !== "dash";
    $("tab-queue").setAttribute("aria-pressed", String(view === "queue"));
    $("tab-dash").setAttribute("aria-pressed", String(view === "dash"));
    if (view === "dash") loadDashboard(); else loadQueue();
  }
  $("tab-queue").addEventListener("click", function () { history.replaceState(null, "", "#queue"); show("queue"); });
  $("tab-dash").addEventListener("click", function () { history.replaceState(null, "", "#dashboard"); show("dash"); });
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
      el("p", { class: "c-muted c-small", text: (d.tokens.in + d.tokens.out) + " tokens used · " + d.tokens.saved_tokens + " tokens saved · $" + d.tokens.price_per_1k_tokens + " per 1k tokens" })]));

    var breakers = d.breakers.length
      ? el("ul", { class: "c-breakers" }, d.breakers.map(function (b) {
        return el("li", null, [svg("svg", { width: 12, height: 12, "aria-hidden": "true" }, [svg("circle", { cx: 6, cy: 6, r: 6, fill: b.state === "ok" ? "#2e7d32" : b.state === "degraded" ? "#f0a830" : "#c62828" })]),
          " " + b.name + ": " + b.state + (b.detail ? " — " + b.detail : "")]);
      }))
      : el("p", { class: "c-muted", text: "No integrations configured: nothing to break." });
    dash.appendChild(card("Integration breakers", [breakers, el("p", { class: "c-muted c-small", text: "Cache: " + d.cache.health })]));
  }

  start();
})();
