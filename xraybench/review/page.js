// The reader-study page. Every text from the server is inserted with textContent (reports are untrusted);
// every answer is POSTed at once, so closing the tab or restarting the server loses nothing.
(function () {
  "use strict";

  const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
    "#fabed4", "#469990"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const base = document.querySelector('meta[name="api-base"]').content;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const body = document.body;
  let state = null; // {total, complete, start, finished, dimensions}
  let current = null; // the case shown
  let active = 0; // index of the question that keyboard choices answer
  let saves = 0;

  function byId(id) { return document.getElementById(id); }

  function showError(message) {
    const box = byId("error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function api(path, payload) {
    const options = payload === undefined ? {} : {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(payload),
    };
    const response = await fetch(base + path, Object.assign({credentials: "same-origin", cache: "no-store"}, options));
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) { throw new Error(data.error || ("HTTP " + response.status)); }
    return data;
  }

  function setProgress(complete, total, finished) {
    byId("progress").textContent = complete + " / " + total;
    body.dataset.complete = String(complete);
    byId("done").hidden = !finished;
    body.dataset.finished = finished ? "yes" : "no";
  }

  function buildQuestions() {
    const holder = byId("dimensions");
    state.dimensions.forEach(function (dim, i) {
      const set = document.createElement("fieldset");
      set.className = "dimension";
      set.dataset.key = dim.key;
      const legend = document.createElement("legend");
      legend.textContent = (i + 1) + ". " + dim.label;
      const question = document.createElement("p");
      question.textContent = dim.question;
      set.append(legend, question);
      [["left", "Left (A)"], ["tie", "Tie (S)"], ["right", "Right (D)"]].forEach(function (pair) {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.choice = pair[0];
        button.textContent = pair[1];
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", function () { setActive(i); choose(dim.key, pair[0]); });
        set.append(button);
      });
      set.addEventListener("focusin", function () { setActive(i); });
      holder.append(set);
    });
  }

  function setActive(i) {
    active = Math.max(0, Math.min(state.dimensions.length - 1, i));
    document.querySelectorAll("fieldset.dimension").forEach(function (set, j) {
      set.classList.toggle("active", j === active);
    });
    body.dataset.active = state.dimensions[active].key;
  }

  function markChoice(key, choice) {
    const set = document.querySelector('fieldset.dimension[data-key="' + key + '"]');
    set.querySelectorAll("button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.choice === choice));
    });
  }

  async function choose(key, choice) {
    if (!current) { return; }
    const shown = current;
    const before = shown.answers[key];
    shown.answers[key] = choice;
    markChoice(key, choice);
    const next = state.dimensions.findIndex(function (d, j) { return j > active && !shown.answers[d.key]; });
    if (next >= 0) { setActive(next); }
    byId("status").textContent = "saving…";
    try {
      const result = await api("/api/answer", {position: shown.position, dimension: key, choice: choice});
      saves += 1;
      body.dataset.saves = String(saves);
      byId("status").textContent = "saved";
      showError("");
      setProgress(result.complete, result.total, result.finished);
    } catch (err) {
      shown.answers[key] = before;
      if (shown === current) { markChoice(key, before); }
      byId("status").textContent = "not saved";
      showError("Your answer was not saved (" + err.message + "). Check the server and click again.");
    }
  }

  async function saveComment() {
    const box = byId("comment");
    if (!current || box.value === current.comment) { return; }
    const shown = current;
    const text = box.value;
    try {
      await api("/api/answer", {position: shown.position, comment: text});
      shown.comment = text;
      saves += 1;
      body.dataset.saves = String(saves);
      byId("status").textContent = "comment saved";
    } catch (err) {
      showError("Your comment was not saved (" + err.message + ").");
    }
  }

  function svgElement(tag, attributes) {
    const node = document.createElementNS(SVG_NS, tag);
    Object.keys(attributes).forEach(function (k) { node.setAttribute(k, attributes[k]); });
    return node;
  }

  function drawBoxes(svg, boxes, colour, label, group, space) {
    const g = svgElement("g", {"data-group": group});
    const size = Math.max(space[0], space[1]) / 30; // labels look the same whatever the box space
    boxes.forEach(function (b) {
      g.append(svgElement("rect", {x: b[0], y: b[1], width: Math.max(b[2] - b[0], 0), height: Math.max(b[3] - b[1], 0),
        stroke: colour}));
      const text = svgElement("text", {x: b[0] + size / 4, y: b[1] + size, fill: colour, "font-size": size});
      text.textContent = label;
      g.append(text);
    });
    svg.append(g);
    return g;
  }

  function stepItem(text, colour, boxes, group, svg) {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = colour;
    const words = document.createElement("span");
    words.textContent = text;
    if (boxes.length) {
      const toggle = document.createElement("input");
      toggle.type = "checkbox";
      toggle.checked = true;
      toggle.className = "box-toggle";
      toggle.title = "show this step's boxes";
      toggle.addEventListener("change", function () {
        svg.querySelector('g[data-group="' + group + '"]').style.display = toggle.checked ? "" : "none";
      });
      label.append(toggle);
    }
    label.append(swatch, words);
    item.append(label);
    return item;
  }

  function drawSide(side, output) {
    const section = byId("side-" + side);
    section.querySelector("img").src = current.image;
    const svg = section.querySelector("svg");
    svg.replaceChildren();
    svg.setAttribute("viewBox", "0 0 " + output.box_space[0] + " " + output.box_space[1]);
    const list = section.querySelector(".steps");
    list.replaceChildren();
    output.steps.forEach(function (step, i) {
      const colour = COLOURS[i % COLOURS.length];
      const group = side + "-step-" + i;
      drawBoxes(svg, step.boxes, colour, String(i + 1), group, output.box_space);
      list.append(stepItem(step.text, colour, step.boxes, group, svg));
    });
    section.querySelector(".steps-heading").textContent = output.has_reasoning ? "Reasoning" : "Output (no reasoning block)";
    if (!output.steps.length) {
      const none = document.createElement("li");
      none.textContent = "(no reasoning given)";
      list.append(none);
    }
    section.querySelector(".answer").textContent = output.answer;
  }

  function render() {
    byId("case-id").textContent = current.case_id;
    byId("prompt").textContent = current.prompt;
    byId("position").textContent = "case " + (current.position + 1) + " of " + current.total;
    drawSide("left", current.left);
    drawSide("right", current.right);
    byId("reference").textContent = current.reference;
    revealReference(false);
    byId("comment").value = current.comment;
    state.dimensions.forEach(function (d) { markChoice(d.key, current.answers[d.key]); });
    const open = state.dimensions.findIndex(function (d) { return !current.answers[d.key]; });
    setActive(open >= 0 ? open : 0);
    byId("prev").disabled = current.position === 0;
    byId("next").disabled = current.position >= current.total - 1;
    setProgress(current.complete, current.total, current.complete === current.total);
    body.dataset.position = String(current.position);
    body.dataset.caseId = current.case_id;
    body.dataset.state = "ready";
  }

  async function show(position) {
    if (position < 0 || position >= state.total) { return; }
    await saveComment();
    body.dataset.state = "loading";
    try {
      current = await api("/api/case/" + position);
      showError("");
      render();
    } catch (err) {
      body.dataset.state = "error";
      showError("Could not load the case (" + err.message + "). Is the server running? Reload to retry.");
    }
  }

  function revealReference(open) {
    byId("reference").hidden = !open;
    const button = byId("reveal");
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "Hide reference report (R)" : "Show reference report (R)";
  }

  function toggleAllBoxes() {
    const toggles = Array.from(document.querySelectorAll("input.box-toggle"));
    const show = toggles.some(function (t) { return !t.checked; });
    toggles.forEach(function (t) {
      if (t.checked !== show) { t.checked = show; t.dispatchEvent(new Event("change")); }
    });
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    const target = event.target;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" && target.type === "text")) {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    if (!current || body.dataset.state !== "ready") { return; }
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const digit = parseInt(key, 10);
    const dim = state.dimensions[active].key;
    if (digit >= 1 && digit <= state.dimensions.length) { setActive(digit - 1); }
    else if (key === "a" || key === "ArrowLeft") { choose(dim, "left"); }
    else if (key === "d" || key === "ArrowRight") { choose(dim, "right"); }
    else if (key === "s" || key === "t") { choose(dim, "tie"); }
    else if (key === "n" || key === "j") { show(current.position + 1); }
    else if (key === "p" || key === "k") { show(current.position - 1); }
    else if (key === "r") { revealReference(byId("reference").hidden); }
    else if (key === "b") { toggleAllBoxes(); }
    else if (key === "c") { byId("comment").focus(); }
    else { return; }
    event.preventDefault();
  }

  async function start() {
    try {
      state = await api("/api/state");
    } catch (err) {
      body.dataset.state = "error";
      showError("Could not reach the study server (" + err.message + ").");
      return;
    }
    buildQuestions();
    byId("prev").addEventListener("click", function () { show(current.position - 1); });
    byId("next").addEventListener("click", function () { show(current.position + 1); });
    byId("reveal").addEventListener("click", function () { revealReference(byId("reference").hidden); });
    byId("comment").addEventListener("change", saveComment);
    document.addEventListener("keydown", onKey);
    await show(state.start);
  }

  start();
}());
