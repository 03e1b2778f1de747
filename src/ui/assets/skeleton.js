// A flow's run laid over its skeleton: the drawing the HTML export makes of
// the flow's loops, branches and calls, with how often each call ran, its
// state, each loop's rounds and the branches not taken.

import { el, getJson, throttled, visible } from "/assets/dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";

export function skeletonView(box, runId, { onSelect }) {
  const note = el("p", { class: "muted" }, "loading…");
  const canvas = el("div", { class: "canvas skeleton-canvas" });
  box.append(note, canvas);
  let details = {};
  let loaded = false;
  let visibleNow = false;
  const loads = throttled(load);

  async function load() {
    let s;
    try {
      s = await getJson(`/api/runs/${encodeURIComponent(runId)}/skeleton`);
    } catch (e) {
      note.textContent = visible(e.message);
      return;
    }
    loaded = true;
    if (s.none !== undefined) {
      note.textContent = visible(s.none);
      canvas.replaceChildren();
      return;
    }
    details = s.details;
    note.textContent = s.fits
      ? "The flow's source, as weft compile reads it, with what this run did in each zone."
      : "The run's calls do not fit the skeleton (the script changed since?): calls are matched by name.";
    // The renderer's markup (every user string escaped there); the page's
    // Content-Security-Policy forbids any script in it anyway.
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", String(s.width));
    svg.setAttribute("height", String(s.height));
    svg.setAttribute("viewBox", `0 0 ${s.width} ${s.height}`);
    svg.setAttribute("data-skeleton", "");
    const doc = new DOMParser().parseFromString(
      `<svg xmlns="${SVG_NS}"><defs><marker id="weft-arrow-sk" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker></defs>${s.svg}</svg>`,
      "image/svg+xml",
    );
    svg.append(...[...doc.documentElement.childNodes].map((n) => document.importNode(n, true)));
    for (const p of svg.querySelectorAll("[marker-end]")) {
      p.setAttribute("marker-end", "url(#weft-arrow-sk)");
    }
    canvas.replaceChildren(svg);
  }

  canvas.addEventListener("click", (e) => {
    const g = e.target.closest?.(".node.sk");
    if (!g) return;
    const key = g.getAttribute("data-key");
    for (const s of canvas.querySelectorAll(".node.selected")) s.classList.remove("selected");
    g.classList.add("selected");
    onSelect(details[key], { key, lines: [key] });
  });

  return {
    show() {
      visibleNow = true;
      if (!loaded) loads.now();
    },
    hide() {
      visibleNow = false;
    },
    /** The run changed: draw again, at most once a second, while shown. */
    changed() {
      loaded = false;
      if (visibleNow) loads.soon();
    },
    close() {
      loads.stop();
    },
  };
}
