/* Tria web chat widget. Embed with one tag:
 *   <script src="https://TRIA_HOST/widget.js" data-key="PUBLISHABLE_KEY" defer></script>
 * Optional: data-mount="#element" (render inline there instead of a floating button),
 * data-title="…". No framework, no build step; talks to the Tria origin the script came from. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var BASE = new URL(script.src, location.href).origin;
  var KEY = (script.getAttribute("data-key") || new URLSearchParams(location.search).get("key") || "").trim();
  var TITLE = script.getAttribute("data-title") || "Support chat";
  var MOUNT = script.getAttribute("data-mount");
  var POLL_MS = 3000;
  var MAX_RETRIES = 4;
  var STORE = "tria.session." + KEY.slice(-16);

  var state = { session: null, lastId: null, seen: new Set(), busy: false, status: "open", pollTimer: null, polling: false };
  try { state.session = sessionStorage.getItem(STORE); } catch (e) { /* storage may be blocked */ }

  // ---- small DOM helpers (no innerHTML with data: everything is textContent) ----
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") node.textContent = v;
        else if (k === "class") node.className = v;
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function srOnly(text) { return el("span", { class: "tria-sr", text: text }); }

  // ---- stylesheet (the widget's own, from the Tria origin) ----
  if (!document.querySelector('link[data-tria-css]')) {
    var already = Array.prototype.some.call(document.styleSheets, function (s) { return s.href && s.href.indexOf(BASE + "/widget.css") === 0; });
    if (!already) document.head.appendChild(el("link", { rel: "stylesheet", href: BASE + "/widget.css", "data-tria-css": "1" }));
  }

  // ---- the UI ----
  var uid = "tria-" + Math.random().toString(36).slice(2, 8);
  var log = el("div", { class: "tria-log", id: uid + "-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { class: "tria-typing", hidden: true, "aria-hidden": "true" }, [el("span"), el("span"), el("span")]);
  var typingText = el("span", { class: "tria-sr", role: "status" });
  var banner = el("div", { class: "tria-banner", role: "status", hidden: true });
  var input = el("textarea", { id: uid + "-input", class: "tria-input", rows: "1", maxlength: "4000", placeholder: "Type your message…", autocomplete: "off" });
  var sendBtn = el("button", { type: "submit", class: "tria-send" }, ["Send"]);
  var form = el("form", { class: "tria-form", "aria-label": "Send a message" }, [
    el("label", { for: uid + "-input", class: "tria-sr", text: "Your message" }), input, sendBtn,
  ]);
  var statusLine = el("p", { class: "tria-status", text: "Replies usually take a second." });
  var header = el("div", { class: "tria-header" }, [el("h2", { class: "tria-title", id: uid + "-title", text: TITLE }), statusLine]);
  var panel = el("section", { class: "tria-panel", "aria-labelledby": uid + "-title" }, [header, banner, log, typing, typingText, form]);

  var mountPoint = MOUNT ? document.querySelector(MOUNT) : null;
  var launcher = null;
  if (mountPoint) {
    panel.classList.add("tria-inline");
    mountPoint.appendChild(panel);
  } else {
    panel.classList.add("tria-floating");
    panel.id = uid + "-panel";
    panel.hidden = true;
    var closeBtn = el("button", { type: "button", class: "tria-close", "aria-label": "Close chat", onclick: function () { toggle(false); } }, ["×"]);
    header.appendChild(closeBtn);
    launcher = el("button", { type: "button", class: "tria-launcher", "aria-expanded": "false", "aria-controls": panel.id, onclick: function () { toggle(panel.hidden); } }, ["Chat with us"]);
    document.body.appendChild(panel);
    document.body.appendChild(launcher);
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  }
  function toggle(open) {
    panel.hidden = !open;
    if (launcher) launcher.setAttribute("aria-expanded", String(open));
    if (open) input.focus(); else if (launcher) launcher.focus();
  }

  if (!KEY || KEY.indexOf("{{") === 0) {
    note("This chat has no widget key. Create one with `cargo xtask keys create --role widget --tenant SLUG` and add it as data-key (or ?key= for a quick try).", "error");
    input.disabled = true; sendBtn.disabled = true;
    return;
  }

  function setBanner(text) { banner.textContent = text || ""; banner.hidden = !text; }
  function showTyping(on) {
    typing.hidden = !on;
    typingText.textContent = on ? "The assistant is typing…" : "";
  }
  function setBusy(on) {
    state.busy = on;
    sendBtn.disabled = on;
    log.setAttribute("aria-busy", on ? "true" : "false");
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function note(text, kind) {
    log.appendChild(el("p", { class: "tria-note" + (kind ? " tria-note-" + kind : ""), text: text }));
    scrollDown();
  }

  var WHO = { user: "You", assistant: "Assistant", operator: "Support agent" };
  function bubble(role, text) {
    var body = el("div", { class: "tria-text", text: text || "" });
    var msg = el("div", { class: "tria-msg tria-" + role }, [
      el("span", { class: "tria-who", text: WHO[role] || role }), srOnly(": "), body,
    ]);
    log.appendChild(msg);
    scrollDown();
    return { node: msg, body: body };
  }

  function money(minor, currency) {
    var value = (Number(minor) || 0) / 100;
    try { return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(value); }
    catch (e) { return value.toFixed(2) + " " + (currency || ""); }
  }

  // "Title › Heading", without repeating the title when the heading path starts with it.
  function citeLabel(title, heading) {
    title = title || ""; heading = heading || "";
    if (heading.indexOf(title + " › ") === 0) heading = heading.slice(title.length + 3);
    if (!heading || heading === title) return title;
    return title ? title + " › " + heading : heading;
  }

  function citations(sources) {
    if (!sources || !sources.length) return null;
    var list = el("ol", { class: "tria-sources" }, sources.map(function (s) {
      var label = typeof s === "string" ? s : citeLabel(s.title, s.heading);
      return el("li", { text: label || "source" });
    }));
    return el("details", { class: "tria-cite" }, [
      el("summary", { text: "Sources (" + sources.length + ")" }), list,
    ]);
  }

  function orderTable(order) {
    var rows = (order.lines || []).map(function (l) {
      return el("tr", null, [
        el("td", { text: l.name || l.sku }), el("td", { class: "tria-num", text: String(l.quantity) + (l.unit ? " " + l.unit : "") }),
        el("td", { class: "tria-num", text: money(l.unit_price_minor, order.currency) }),
        el("td", { class: "tria-num", text: money(l.line_total_minor, order.currency) }),
      ]);
    });
    var caption = (order.order_number ? "Order " + order.order_number : "Your order") + " · " + (order.status || "draft");
    var table = el("table", { class: "tria-order" }, [
      el("caption", { text: caption }),
      el("thead", null, [el("tr", null, [el("th", { scope: "col", text: "Item" }), el("th", { scope: "col", class: "tria-num", text: "Qty" }),
        el("th", { scope: "col", class: "tria-num", text: "Unit price" }), el("th", { scope: "col", class: "tria-num", text: "Total" })])]),
      el("tbody", null, rows),
      el("tfoot", null, [el("tr", null, [el("th", { scope: "row", colspan: "3", text: "Total" }),
        el("td", { class: "tria-num", text: money(order.total_minor, order.currency) })])]),
    ]);
    var wrap = el("div", { class: "tria-order-wrap" }, [table]);
    if (order.awaiting_confirmation) {
      var confirm = el("button", { type: "button", class: "tria-confirm", onclick: function () {
        confirm.disabled = true;
        confirm.textContent = "Confirmation sent";
        send("Confirm");
      } }, ["Confirm order"]);
      wrap.appendChild(confirm);
    }
    return wrap;
  }

  // A thumb icon drawn as SVG (emoji fonts are not everywhere); `down` flips it.
  var SVG_NS = "http://www.w3.org/2000/svg";
  function thumb(down) {
    var icon = document.createElementNS(SVG_NS, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("width", "16");
    icon.setAttribute("height", "16");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z");
    path.setAttribute("fill", "currentColor");
    if (down) path.setAttribute("transform", "rotate(180 12 12)");
    icon.appendChild(path);
    return icon;
  }

  function feedbackButtons(messageId) {
    var status = el("span", { class: "tria-fb-status", role: "status" });
    function rate(rating, btn, other) {
      fetch(BASE + "/api/v1/messages/" + encodeURIComponent(messageId) + "/feedback", {
        method: "POST", headers: { authorization: "Bearer " + KEY, "content-type": "application/json" },
        body: JSON.stringify({ rating: rating }),
      }).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        btn.setAttribute("aria-pressed", "true"); other.setAttribute("aria-pressed", "false");
        status.textContent = "Thanks for the feedback.";
      }).catch(function () { status.textContent = "Could not send feedback."; });
    }
    var up = el("button", { type: "button", class: "tria-fb tria-fb-up", "aria-label": "Helpful", "aria-pressed": "false", title: "Helpful" }, [thumb(false)]);
    var down = el("button", { type: "button", class: "tria-fb tria-fb-down", "aria-label": "Not helpful", "aria-pressed": "false", title: "Not helpful" }, [thumb(true)]);
    up.addEventListener("click", function () { rate("up", up, down); });
    down.addEventListener("click", function () { rate("down", down, up); });
    return el("div", { class: "tria-feedback", role: "group", "aria-label": "Rate this reply" }, [up, down, status]);
  }

  function finishReply(b, done) {
    var extra = [citations(done.sources), done.order ? orderTable(done.order) : null, done.message_id ? feedbackButtons(done.message_id) : null];
    extra.forEach(function (x) { if (x) b.node.appendChild(x); });
    if (done.message_id) { state.seen.add(done.message_id); state.lastId = done.message_id; }
    if (done.handoff) setStatus("handed_off");
    scrollDown();
  }

  function setStatus(status) {
    if (status === state.status) return;
    var was = state.status;
    state.status = status;
    if (status === "handed_off") { statusLine.textContent = "You are chatting with a person."; note("A person from our team has joined the conversation.", "info"); }
    else if (was === "handed_off" && status === "open") { statusLine.textContent = "Replies usually take a second."; note("The assistant is answering again.", "info"); }
  }

  function remember(session) {
    state.session = session;
    try { sessionStorage.setItem(STORE, session); } catch (e) { /* ignore */ }
  }

  // ---- SSE over fetch: POST cannot use EventSource, so the stream is read by hand ----
  function parseBlock(block) {
    var name = "message", data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return null;
    try { return { name: name, data: JSON.parse(data.join("\n")) }; } catch (e) { return null; }
  }

  function RetryableError(message, afterMs) { this.message = message; this.afterMs = afterMs; }
  function FatalError(message) { this.message = message; }

  async function streamOnce(text, ctx) {
    var body = { message: text };
    if (state.session) body.session_id = state.session;
    var res;
    try {
      res = await fetch(BASE + "/api/v1/chat/stream", {
        method: "POST",
        headers: { authorization: "Bearer " + KEY, "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(body),
      });
    } catch (e) { throw new RetryableError("network"); }
    if (!res.ok) {
      var err = await res.json().catch(function () { return null; });
      var message = err && err.error ? err.error.message : "HTTP " + res.status;
      if (res.status === 429 || res.status === 503 || res.status >= 500) {
        var after = Number(res.headers.get("retry-after")) || 0;
        throw new RetryableError(message, after * 1000);
      }
      if (res.status === 404 && state.session) {
        // The session is gone (or not this widget's): start a new one.
        state.session = null;
        try { sessionStorage.removeItem(STORE); } catch (e) { /* ignore */ }
        throw new RetryableError("session expired", 1);
      }
      throw new FatalError(message);
    }
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk;
      try { chunk = await reader.read(); } catch (e) { throw new RetryableError("stream interrupted"); }
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      var idx;
      while ((idx = buffer.indexOf("\n\n")) >= 0) {
        var ev = parseBlock(buffer.slice(0, idx));
        buffer = buffer.slice(idx + 2);
        if (ev) handleEvent(ev, ctx);
      }
    }
    if (!ctx.done) throw new RetryableError("stream ended early");
  }

  function handleEvent(ev, ctx) {
    if (ev.name === "meta") {
      ctx.meta = true;
      if (ev.data.session_id) remember(ev.data.session_id);
    } else if (ev.name === "token") {
      if (!ctx.bubble) { showTyping(false); ctx.bubble = bubble("assistant", ""); ctx.bubble.node.setAttribute("aria-busy", "true"); }
      ctx.bubble.body.textContent += ev.data.delta || "";
      scrollDown();
    } else if (ev.name === "done") {
      ctx.done = true;
      showTyping(false);
      if (!ctx.bubble) ctx.bubble = bubble("assistant", "");
      ctx.bubble.node.removeAttribute("aria-busy");
      finishReply(ctx.bubble, ev.data);
    } else if (ev.name === "error") {
      ctx.done = true;
      showTyping(false);
      throw new FatalError(ev.data.message || "Something went wrong.");
    }
  }

  async function waitOnline() {
    while (!navigator.onLine) await sleep(500);
  }

  async function send(text) {
    text = (text || "").trim();
    if (!text || state.busy) return;
    bubble("user", text);
    setBusy(true);
    showTyping(true);
    var ctx = { meta: false, done: false, bubble: null };
    for (var attempt = 0; ; attempt++) {
      try {
        await streamOnce(text, ctx);
        setBanner("");
        break;
      } catch (e) {
        if (e instanceof FatalError) { showTyping(false); note(e.message, "error"); break; }
        if (ctx.meta) {
          // The message reached the server and is stored: fetch the reply instead of resending.
          setBanner("Connection lost; fetching the reply…");
          await waitOnline();
          if (ctx.bubble) { ctx.bubble.node.remove(); ctx.bubble = null; }
          await sleep(600);
          await poll(true);
          setBanner("");
          showTyping(false);
          break;
        }
        if (attempt >= MAX_RETRIES) {
          showTyping(false);
          setBanner("");
          note("We could not reach support. Check your connection and send the message again.", "error");
          break;
        }
        var delay = e.afterMs || Math.min(8000, 500 * Math.pow(2, attempt));
        setBanner(navigator.onLine ? "Connection problem; retrying in " + Math.ceil(delay / 1000) + " s…" : "You are offline; the message will be sent when you are back online.");
        await sleep(delay);
        await waitOnline();
      }
    }
    showTyping(false);
    setBusy(false);
    schedulePoll();
  }

  // ---- new messages of the session: operator replies, and replies lost with a stream ----
  async function poll(includeReplies) {
    if (!state.session || state.polling) return;
    state.polling = true;
    try {
      var url = BASE + "/api/v1/sessions/" + encodeURIComponent(state.session) + "/events" + (state.lastId ? "?after=" + encodeURIComponent(state.lastId) : "");
      var res = await fetch(url, { headers: { authorization: "Bearer " + KEY } });
      if (res.status === 404) { state.session = null; try { sessionStorage.removeItem(STORE); } catch (e) { /* ignore */ } return; }
      if (!res.ok) return;
      var body = await res.json();
      (body.messages || []).forEach(function (m) {
        state.lastId = m.id;
        if (state.seen.has(m.id)) return;
        state.seen.add(m.id);
        if (m.role === "operator" || (includeReplies && m.role === "assistant")) {
          var b = bubble(m.role, m.content);
          if (m.role === "assistant") finishReply(b, { sources: m.citations || m.sources, message_id: m.id });
        }
      });
      setStatus(body.status);
      if (banner.textContent.indexOf("offline") >= 0 || banner.textContent.indexOf("reach") >= 0) setBanner("");
    } catch (e) {
      setBanner(navigator.onLine ? "Reconnecting…" : "You are offline.");
    } finally {
      state.polling = false;
    }
  }

  function schedulePoll() {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(async function () {
      if (!state.busy && document.visibilityState !== "hidden") await poll(false);
      schedulePoll();
    }, POLL_MS);
  }

  async function restore() {
    if (!state.session) { note("Hello! How can we help you today?", "info"); return; }
    try {
      var res = await fetch(BASE + "/api/v1/sessions/" + encodeURIComponent(state.session) + "/events", { headers: { authorization: "Bearer " + KEY } });
      if (!res.ok) throw new Error(String(res.status));
      var body = await res.json();
      (body.messages || []).forEach(function (m) {
        state.seen.add(m.id);
        state.lastId = m.id;
        var b = bubble(m.role === "system" ? "assistant" : m.role, m.content);
        if (m.role === "assistant") finishReply(b, { sources: m.citations || m.sources, message_id: m.id });
      });
      state.status = body.status === "handed_off" ? "open" : body.status;
      setStatus(body.status);
    } catch (e) {
      state.session = null;
      try { sessionStorage.removeItem(STORE); } catch (e2) { /* ignore */ }
      note("Hello! How can we help you today?", "info");
    }
    schedulePoll();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim() || state.busy) return;
    input.value = "";
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    // Enter sends, Shift+Enter adds a line.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : sendBtn.click(); }
  });
  window.addEventListener("offline", function () { setBanner("You are offline. Messages will be sent when the connection is back."); });
  window.addEventListener("online", function () { setBanner(""); poll(false); });

  restore();
})();
