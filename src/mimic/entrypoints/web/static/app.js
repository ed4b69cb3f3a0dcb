// Mimic's pages: forms talk to the JSON API, one WebSocket brings live events, and
// fragments marked hx-trigger="live from:body" re-read themselves when one arrives.
"use strict";

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

function csrfHeaders() {
  return { "X-CSRF-Token": cookie("mimic_csrf") };
}

document.addEventListener("htmx:configRequest", (event) => {
  Object.assign(event.detail.headers, csrfHeaders());
});

// --- forms -> JSON API --------------------------------------------------------------

function fieldValue(input) {
  const kind = input.dataset.json || "str";
  if (input.type === "checkbox") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return input.type === "number" ? null : undefined; // empty number: unset it
  if (kind === "int") return Number.parseInt(raw, 10);
  if (kind === "bool") return raw === "true";
  if (kind === "list") return raw.split(",").map((item) => item.trim()).filter(Boolean);
  return raw; // decimals travel as strings
}

function setPath(body, name, value) {
  const parts = name.split(".");
  let node = body;
  for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
  node[parts[parts.length - 1]] = value;
}

function formBody(form, withSkipped = false) {
  const body = {};
  for (const input of form.querySelectorAll("[name]")) {
    if (input.disabled || (input.dataset.skip !== undefined && !withSkipped)) continue;
    const value = fieldValue(input);
    if (value !== undefined) setPath(body, input.name, value);
  }
  return body;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll("[data-error-for]")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const result = form.querySelector("[data-result]");
  if (result) result.textContent = "";
}

function showError(form, answer) {
  // Domain errors name a `field`; request validation lists the offending `key` in `extra`.
  const first = answer && Array.isArray(answer.extra) ? answer.extra[0] : undefined;
  const field = (answer && answer.field) || (first && first.key);
  const message =
    (first && first.message) || (answer && answer.detail) || "Something went wrong; try again.";
  const slot = field && form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  if (slot) {
    slot.textContent = message;
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    return;
  }
  const result = form.querySelector("[data-result]");
  if (result) result.textContent = message;
}

function fillTemplate(template, answer) {
  // A whole address from the answer (the payment provider's invoice page) is used as it is.
  const whole = /^\{(\w+)\}$/.exec(template);
  if (whole) {
    const address = String(answer[whole[1]] ?? "");
    return address.startsWith("https://") || address.startsWith("/") ? address : "/";
  }
  return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(answer[key] ?? ""));
}

function channelsBody(form) {
  // One checkbox per (event, channel): {"events": {event: [channels]}} for every event shown.
  const events = {};
  for (const box of form.querySelectorAll("input[data-event]")) {
    events[box.dataset.event] = events[box.dataset.event] || [];
    if (box.checked) events[box.dataset.event].push(box.dataset.channel);
  }
  return { events };
}

async function submitJson(form) {
  clearErrors(form);
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  const method = (form.dataset.method || "POST").toUpperCase();
  const fields = form.dataset.channels !== undefined ? channelsBody(form) : formBody(form);
  const body = method === "DELETE" ? undefined : JSON.stringify(fields);
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    const url = form.dataset.apiTemplate
      ? fillTemplate(form.dataset.apiTemplate, formBody(form, true))
      : form.dataset.api;
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...csrfHeaders() },
      body,
    });
    const text = await response.text();
    const answer = text ? JSON.parse(text) : {};
    if (!response.ok) {
      showError(form, answer);
      return;
    }
    if (form.dataset.redirect) {
      window.location.assign(fillTemplate(form.dataset.redirect, answer));
      return;
    }
    const result = form.querySelector("[data-result]");
    if (result) result.textContent = form.dataset.done || "Saved.";
    document.body.dispatchEvent(new Event("live"));
    if (form.dataset.reset !== undefined) form.reset();
  } catch (error) {
    showError(form, { detail: "The server did not answer; check the connection and retry." });
  } finally {
    if (button) button.disabled = false;
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  if (!form.dataset.api && !form.dataset.apiTemplate) return;
  event.preventDefault();
  submitJson(form);
});

// --- live events --------------------------------------------------------------------

const EVENT_TEXT = {
  "order.filled": "Order filled",
  "order.rejected": "Order rejected",
  "order.skipped": "Order skipped",
  "signal.progress": "Signal progress",
  "position.trailing_moved": "Trailing stop moved",
  "position.trailing_stop": "Trailing stop hit",
  "position.stop_loss": "Stop-loss hit",
  "position.take_profit": "Take-profit hit",
  "position.dca": "DCA order",
  "guardrail.tripped": "Guardrail tripped",
  "message.received": "New message",
  "exchange.approved": "Connection approved",
  "exchange.rejected": "Connection rejected",
  "panic.executed": "Panic switch pulled",
};

function toast(event) {
  const area = document.getElementById("toasts");
  if (!area) return;
  const item = document.createElement("li");
  const title = document.createElement("strong");
  title.textContent = EVENT_TEXT[event.kind] || event.kind;
  item.append(title);
  const detail = event.data.text || event.data.reason || event.data.symbol || "";
  if (detail) item.append(" " + detail); // text node: never parsed as HTML
  area.prepend(item);
  while (area.children.length > 5) area.lastElementChild.remove();
}

function connectLive() {
  const status = document.getElementById("live-status");
  let delay = 500;
  let opened = false;
  const open = () => {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/live`);
    socket.addEventListener("open", () => {
      if (status) status.dataset.state = "live";
      if (opened) document.body.dispatchEvent(new Event("live")); // re-read what was missed
      opened = true;
      delay = 500;
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      toast(event);
      document.body.dispatchEvent(new Event("live"));
    });
    socket.addEventListener("close", () => {
      if (status) status.dataset.state = "offline";
      window.setTimeout(open, delay);
      delay = Math.min(delay * 2, 15000);
    });
  };
  open();
}

if (document.body.dataset.live !== undefined) connectLive();
