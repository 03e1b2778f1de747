// What a run waits for: its sleeps (with when each wakes) and signal waits,
// the signals sent that it has not taken yet, and the dialog that sends a
// signal (the same sendSignal as `weft signal RUN_ID NAME VALUE`).

import { el, formatMs, formatTime } from "/assets/dom.js";

/** "in 2h 03m", "now" once past. */
function fromNow(t) {
  const left = t - Date.now();
  return left <= 0 ? "due now" : `in ${formatMs(left)}`;
}

/**
 * Fills `box` with what the run waits for (`w` from /api/runs/ID/waits), or
 * empties it when it waits for nothing.
 */
export function renderWaits(box, w) {
  if (w === null || (w.waits.length === 0 && w.sent.length === 0)) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const items = [];
  if (w.status === "sleeping") {
    items.push(el(
      "li",
      { "data-wake": w.wakeAt === null ? "" : String(w.wakeAt) },
      el("b", {}, "suspended"),
      w.wakeAt === null
        ? " until a signal it waits for arrives (weft serve wakes it then, or Resume)"
        : ` until ${formatTime(w.wakeAt)} (${fromNow(w.wakeAt)}); weft serve wakes it, or Resume`,
    ));
  }
  for (const x of w.waits) {
    if (x.kind === "sleep") {
      items.push(el(
        "li",
        { "data-wait": x.nodeId },
        "sleeping",
        x.wakeAt === null ? "" : ` until ${formatTime(x.wakeAt)} (${fromNow(x.wakeAt)})`,
        el("span", { class: "muted" }, ` · ${x.nodeId}`),
      ));
    } else {
      items.push(el(
        "li",
        { "data-wait": x.nodeId, "data-signal": x.signal ?? "" },
        "waiting for signal ",
        el("b", {}, x.signal ?? "?"),
        x.since === null ? "" : ` since ${formatTime(x.since)}`,
        x.wakeAt === null ? "" : `, times out ${formatTime(x.wakeAt)} (${fromNow(x.wakeAt)})`,
        el("span", { class: "muted" }, ` · ${x.nodeId}`),
      ));
    }
  }
  for (const s of w.sent) {
    items.push(el(
      "li",
      { "data-sent": s.name },
      "signal ",
      el("b", {}, s.name),
      ` #${s.seq} sent ${formatTime(s.sentAt)}, not yet received: `,
      el("code", {}, s.value),
    ));
  }
  box.replaceChildren(el("ul", {}, ...items));
}

/** The names of the signals the run waits for, in the order its waits started. */
export function waitedSignals(w) {
  if (w === null) return [];
  return [...new Set(w.waits.filter((x) => x.signal !== null).map((x) => x.signal))];
}

/**
 * Asks for a signal's name and JSON value, in the page, and sends it with
 * `send(name, value)` once confirmed. Resolves true when it was sent.
 */
export function signalDialog(runId, names, send) {
  return new Promise((resolve) => {
    const listId = `signal-names-${Math.random().toString(36).slice(2)}`;
    const name = el("input", {
      type: "text",
      "data-signal-name": "",
      list: listId,
      value: names[0] ?? "",
      maxlength: "200",
      required: true,
      autocomplete: "off",
    });
    const value = el("textarea", { "data-signal-value": "", rows: "4", spellcheck: "false" });
    value.value = "true";
    const error = el("p", { class: "error-message", "data-signal-error": "" });
    const sendButton = el("button", { class: "primary", "data-confirm-yes": "" }, "Send signal");
    const dialog = el(
      "dialog",
      { class: "confirm signal-dialog", "data-confirm": "", "data-signal-dialog": "" },
      el("h2", {}, `Send a signal to run ${runId}?`),
      el(
        "p",
        {},
        "The flow waiting with ",
        el("code", {}, "yield* signal(name)"),
        " receives the value, as with ",
        el("code", {}, "weft signal RUN_ID NAME VALUE"),
        ". A signal it does not wait for yet is kept for it.",
      ),
      el("label", {}, "name", name),
      el("datalist", { id: listId }, ...names.map((n) => el("option", { value: n }))),
      el("label", {}, 'value (JSON: true, 42, "text", {"ok": true})', value),
      error,
      el(
        "div",
        { class: "buttons" },
        el("button", { class: "secondary", onclick: () => dialog.close("no") }, "Keep it"),
        sendButton,
      ),
    );
    let sent = false;
    sendButton.addEventListener("click", async () => {
      error.textContent = "";
      const n = name.value;
      if (n.length === 0) {
        error.textContent = "Give the signal's name.";
        return;
      }
      let v;
      try {
        v = JSON.parse(value.value);
      } catch (e) {
        error.textContent = `The value is not JSON (${e.message}); quote text: "yes"`;
        return;
      }
      sendButton.disabled = true;
      try {
        await send(n, v);
        sent = true;
        dialog.close("yes");
      } catch (e) {
        error.textContent = e.message;
      } finally {
        sendButton.disabled = false;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(sent);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
