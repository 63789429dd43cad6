// digitsuite app: the page's logic. Every computation happens on the server
// (the suite's own code); this script draws, sends and shows.
"use strict";

const SEND_SIDE = 140;   // the drawing is sent at this size (the server prepares it MNIST-style)
const THROTTLE_MS = 100; // while the pen moves, ask at most this often; pen-up asks at once
const PEN = 20;          // pen width on the 280-pixel pad
const TOP_MAPS = 8;      // maps shown per layer until "all" is clicked
// The page's colours (app.css): orange is kept for doubt, so that a box in
// it always means "check this"; the accent marks what is chosen or shown.
const style = getComputedStyle(document.documentElement);
const ACCENT = style.getPropertyValue("--accent").trim() || "#1a73e8";
const SURE = style.getPropertyValue("--sure").trim() || "#1e8e3e";
const UNSURE = style.getPropertyValue("--unsure").trim() || "#e8710a";

const $ = (id) => document.getElementById(id);
let info = null;         // GET /api/info
const luts = {};         // colour maps: use -> Uint8Array(768)

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function percent(p) {
  // Like the suite's figures: a near-certainty never rounds up to 100 %.
  const text = `${(100 * p).toFixed(1)}%`;
  return text === "100.0%" && p < 1 ? "> 99.9%" : text;
}

function bytes(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function showError(id, message) {
  const box = $(id);
  box.textContent = message || "";
  box.hidden = !message;
}

async function post(url, form) {
  // The server answers errors with {"error": "one line"}.
  let response;
  try {
    response = await fetch(url, { method: "POST", body: form });
  } catch (err) {
    throw new Error("the server did not answer; is python app.py still running?");
  }
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// ---------------------------------------------------------------- tabs

function selectTab(name) {
  for (const tab of ["draw", "upload", "learn"]) {
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(`panel-${tab}`).hidden = tab !== name;
  }
  const slot = document.querySelector(`.slot[data-for="${name}"]`);
  if (slot) slot.append($("digit-views"));
  if (name === "learn" && !$("conv-view").hasChildNodes()) runConv();
}

// ---------------------------------------------------------------- drawing

const pad = $("pad");
const ctx = pad.getContext("2d");
const strokes = [];      // each a list of [x, y] in pad pixels
const small = el("canvas", { width: SEND_SIDE, height: SEND_SIDE });
const sctx = small.getContext("2d");
sctx.imageSmoothingQuality = "high";
// Each change to the drawing gets the next version; an answer is shown only
// when it is for a later version than the one on the page.
let version = 0, sent = 0, shown = 0;
let inFlight = 0, lastSend = -Infinity, timer = null;

function paint() {
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "black";
  ctx.fillStyle = "black";
  ctx.lineWidth = PEN;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const stroke of strokes) {
    ctx.beginPath();
    ctx.moveTo(...stroke[0]);
    if (stroke.length === 1) {
      ctx.arc(stroke[0][0], stroke[0][1], PEN / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      for (const point of stroke.slice(1)) ctx.lineTo(...point);
      ctx.stroke();
    }
  }
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
          (event.clientY - box.top) * pad.height / box.height];
}

function changed(now) {
  version += 1;
  pad.dataset.drawing = String(version);
  paint();
  ask(now);
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  strokes.push([point(event)]);
  changed(false);
});
pad.addEventListener("pointermove", (event) => {
  if (!pad.hasPointerCapture(event.pointerId)) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) strokes[strokes.length - 1].push(point(e));
  changed(false);
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (event) => {
    if (pad.hasPointerCapture(event.pointerId)) pad.releasePointerCapture(event.pointerId);
    ask(true);
  });
}
$("undo").addEventListener("click", () => { strokes.pop(); changed(true); });
$("clear").addEventListener("click", () => { strokes.length = 0; changed(true); });

function ask(now) {
  // During a stroke: one request at a time, at most one per THROTTLE_MS.
  // At pen-up (now): send the final drawing at once, even beside one in flight.
  clearTimeout(timer);
  timer = null;
  if (version === sent) return;
  if (!strokes.length) {
    sent = shown = version;
    resetDigitViews();
    showError("draw-error", "");
    showError("draw-none", "");
    $("digit-views").dataset.drawing = String(version);
    return;
  }
  const wait = lastSend + THROTTLE_MS - performance.now();
  if (!now && inFlight) return;  // the answer's arrival asks again
  if (!now && wait > 0) { timer = setTimeout(() => ask(false), wait); return; }
  sendDrawing();
}

function drawingPng() {
  // toDataURL encodes now; toBlob waits for the browser's idle time, which
  // in Chromium comes long after the pen has stopped.
  sctx.fillStyle = "white";
  sctx.fillRect(0, 0, SEND_SIDE, SEND_SIDE);
  sctx.drawImage(pad, 0, 0, SEND_SIDE, SEND_SIDE);
  const url = small.toDataURL("image/png");
  return new Blob([bytes(url.slice(url.indexOf(",") + 1))], { type: "image/png" });
}

async function sendDrawing() {
  const mine = version;
  sent = mine;
  lastSend = performance.now();
  inFlight += 1;
  const form = new FormData();
  form.append("file", drawingPng(), "your drawing");
  try {
    const result = await post("/api/digit", form);
    if (mine > shown) {
      shown = mine;
      showError("draw-error", "");
      // No digit is an answer too: said as such, with no class shown.
      showError("draw-none", result.no_digit);
      if (result.no_digit) resetDigitViews(); else showDigit(result, "draw");
      $("digit-views").dataset.drawing = String(mine);
    }
  } catch (err) {
    if (mine > shown) {
      shown = mine;
      resetDigitViews();
      showError("draw-none", "");
      showError("draw-error", err.message);
      $("digit-views").dataset.drawing = String(mine);
    }
  } finally {
    inFlight -= 1;
    ask(false);
  }
}

// ---------------------------------------------------------------- one digit's views

function resetDigitViews() {
  $("digit-views").hidden = true;
  $("step-view").hidden = true;
}

function putPixels(canvas, width, height, data, lut, offset = 0) {
  // data[offset + i] (0-255) through a colour map (or grey when lut is null).
  canvas.width = width;
  canvas.height = height;
  const c = canvas.getContext("2d");
  const image = c.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = data[offset + i];
    image.data.set(lut ? lut.subarray(3 * v, 3 * v + 3) : [v, v, v], 4 * i);
    image.data[4 * i + 3] = 255;
  }
  c.putImageData(image, 0, 0);
}

function probabilityBars(box, probabilities) {
  const top = probabilities.indexOf(Math.max(...probabilities));
  box.replaceChildren(...probabilities.map((p, digit) => {
    const bar = el("div", { class: "bar" });
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    return el("div", { class: digit === top ? "row top" : "row", "data-digit": digit },
              el("span", { text: digit }), el("div", {}, bar),
              el("span", { class: "pct", text: percent(p) }));
  }));
}

function spark(probabilities, top) {
  return el("div", { class: "spark", title: probabilities.map((p, d) =>
    `${d}: ${percent(p)}`).join("\n") }, ...probabilities.map((p, d) => {
    const bar = el("i", { class: d === top ? "top" : "" });
    bar.style.height = `${Math.max(1, 22 * p)}px`;
    return bar;
  }));
}

function missingText(model) {
  // One short line: how to add a model that is simply not trained yet; the
  // loader's own message for one that is broken.
  if (model.problem && model.problem.startsWith("not trained yet")) {
    return model.name === "cnn" ? "not trained yet: python train_cnn.py"
                                : `not trained yet: ${info.baselines_command}`;
  }
  return model.problem || "no answer";
}

let lastInput = null;    // base64 of the 28x28 input last shown

function showDigit(result, where) {
  $("digit-views").hidden = false;
  lastInput = result.input;
  const input = bytes(result.input);
  putPixels($("input28"), 28, 28, input, null);
  const answers = Object.fromEntries(result.models.map((m) => [m.name, m]));
  const rows = info.models.map((m) => {
    const a = answers[m.name];
    const title = el("td", { text: m.title, title: m.stand_in || m.path });
    if (!a) {
      return el("tr", { id: `model-${m.name}`, class: "off" }, title,
                el("td", { class: "answer", text: "–" }),
                el("td", { colspan: 2, text: missingText(m) }));
    }
    return el("tr", { id: `model-${m.name}` }, title,
              el("td", { class: "answer", text: a.predicted }),
              el("td", { text: percent(a.confidence) }),
              el("td", {}, spark(a.probabilities, a.predicted)));
  });
  $("models").tBodies[0].replaceChildren(...rows);
  const cnn = answers.cnn;
  const about = info.models.find((m) => m.name === "cnn");
  $("cnn-answer").textContent = cnn ? `${cnn.predicted} (${percent(cnn.confidence)})`
                                    : missingText(about);
  $("cnn-margin").replaceChildren();
  $("cnn-probs").replaceChildren();
  if (cnn) {
    // Until the confidence is calibrated, the doubt shown is the gap to the runner-up.
    const second = cnn.probabilities[cnn.second];
    $("cnn-margin").className = cnn.margin < 0.5 ? "margin close" : "margin";
    $("cnn-margin").append(`runner-up ${cnn.second} (${percent(second)}); top-2 margin ` +
                           `${(100 * cnn.margin).toFixed(1)} points` +
                           (cnn.margin < 0.5 ? ": a close call" : ""),
                           ...(about.stand_in ? [el("br"), el("span", { class: "hint",
                             text: "answered by the shipped reader CNN (models/reader/)" })]
                                              : []));
    probabilityBars($("cnn-probs"), cnn.probabilities);
  }
  if (result.saliency) {
    const heat = bytes(result.saliency), mixed = new Uint8Array(28 * 28 * 3);
    for (let i = 0; i < 28 * 28; i++) {  // grey input under the 'hot' map, 55 % opaque
      for (let c = 0; c < 3; c++) {
        mixed[3 * i + c] = 0.45 * input[i] + 0.55 * luts.saliency[3 * heat[i] + c];
      }
    }
    putRgb($("saliency"), 28, 28, mixed);
  }
  $("crop-figure").hidden = where !== "upload";
  $("digit-views").classList.toggle("with-crop", where === "upload");
  showLayers(result.layers);
  showDense(result.dense, cnn);
  if (!$("step-view").hidden && stepAt) showStep(stepAt.channel, stepAt.row, stepAt.col);
}

function showDense(dense, cnn) {
  const blocks = (dense || []).map((layer) => {
    const cols = layer.units >= 256 ? 32 : 16;
    const rows = Math.ceil(layer.units / cols);
    const values = new Uint8Array(rows * cols);
    values.set(bytes(layer.values));
    const canvas = el("canvas", { class: "units" });
    putPixels(canvas, cols, rows, values, luts.maps);
    canvas.style.width = `${16 * cols}px`;  // one unit: a 16-pixel square
    const about = info.cnn.dense.find((d) => d.name === layer.name);
    return el("figure", { class: "dense", id: `dense-${layer.name}` }, canvas,
              el("figcaption", { text: `${layer.name}: ${layer.units} units` +
                 (about ? ` (${about.activation})` : "") + `, ${layer.active} active; the ` +
                 `strongest ${layer.high.toFixed(2)}` }));
  });
  if (cnn) {
    const top = cnn.predicted;
    const cells = cnn.probabilities.map((p, digit) => {
      const cell = el("div", { class: digit === top ? "out top" : "out", "data-digit": digit },
                      el("b", { text: digit }), el("span", { text: percent(p) }));
      const [R, G, B] = luts.maps.subarray(3 * Math.round(255 * p), 3 * Math.round(255 * p) + 3);
      cell.style.background = `rgb(${R},${G},${B})`;
      cell.style.color = p > 0.5 ? "black" : "white";
      return cell;
    });
    blocks.push(el("figure", { class: "dense", id: "outputs" },
                   el("div", { class: "outputs" }, ...cells),
                   el("figcaption", { text: "the ten outputs: the softmax of the last " +
                                            "layer, one probability per digit" })));
  }
  $("dense").replaceChildren(...blocks);
}

function putRgb(canvas, width, height, rgb) {
  const c = canvas.getContext("2d");
  const image = c.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    image.data.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
    image.data[4 * i + 3] = 255;
  }
  c.putImageData(image, 0, 0);
}

const expanded = new Set();  // layers showing all their maps
let chosen = null;           // {layer, map} whose filter is shown
let lastLayers = [];

function showLayers(layers) {
  lastLayers = layers;
  const box = $("layers");
  if (!info.cnn) {
    const cnn = info.models.find((m) => m.name === "cnn");
    box.replaceChildren(el("p", { class: "error", text: `No CNN to look into: ${cnn.problem}` }));
    return;
  }
  const blocks = layers.map((layer) => {
    const [h, w, count] = layer.shape;
    const data = bytes(layer.maps);   // (count, h, w)
    const all = expanded.has(layer.name);
    const which = all ? [...Array(count).keys()] : layer.order.slice(0, TOP_MAPS);
    const maps = which.map((k) => {
      const canvas = el("canvas");
      putPixels(canvas, w, h, data, luts.maps, k * h * w);
      const isChosen = chosen && chosen.layer === layer.name && chosen.map === k;
      const item = el("div", { class: isChosen ? "map chosen" : "map", "data-map": k,
                               title: `${layer.name} map #${k}: click for its filter` },
                      canvas, el("span", { text: `#${k}` }));
      item.addEventListener("click", () => chooseMap(layer.name, k));
      return item;
    });
    const toggle = el("button", { type: "button", class: "show-all",
                                  text: all ? `show the ${TOP_MAPS} most active`
                                            : `show all ${count}` });
    toggle.addEventListener("click", () => {
      if (all) expanded.delete(layer.name); else expanded.add(layer.name);
      showLayers(lastLayers);
    });
    const about = info.cnn.layers.find((l) => l.name === layer.name);
    return el("div", { class: "layer", id: `layer-${layer.name}` },
              el("div", { class: "layer-head" },
                 el("h3", { text: `${layer.name}  ${h}x${w}x${count}` }),
                 el("span", { class: "what", text: about ? about.description : "" }), toggle),
              el("div", { class: "maps" }, ...maps));
  });
  box.replaceChildren(...blocks);
}

function weightScale(values) {
  // The largest magnitude among nested arrays of weights: full red or blue.
  return Math.max(1e-6, ...values.flat(Infinity).map(Math.abs));
}

function shadeByWeight(cell, w, limit) {
  // Red (+) / blue (-) like the suite's filter pictures, with readable text.
  const k = Math.round(127.5 + 127.5 * Math.max(-1, Math.min(1, w / limit)));
  const [R, G, B] = luts.filters.subarray(3 * k, 3 * k + 3);
  cell.style.background = `rgb(${R},${G},${B})`;
  cell.style.color = Math.abs(w) > 0.6 * limit ? "white" : "black";
  return cell;
}

function numberTable(rows, limit, shadeBorder = false) {
  // A grid of numbers; with limit, cells coloured red (+) / blue (-) like the suite's filters.
  const size = rows.length;
  return el("table", { class: "numbers" }, ...rows.map((row, r) => el("tr", {}, ...row.map((v, c) => {
    const cell = el("td", { text: Number.isInteger(v) ? v : v.toFixed(2) });
    if (shadeBorder && (r === 0 || c === 0 || r === size - 1 || c === row.length - 1)) {
      cell.className = "pad";
    } else if (limit) {
      shadeByWeight(cell, v, limit);
    }
    return cell;
  }))));
}

function chooseMap(layerName, k) {
  chosen = { layer: layerName, map: k };
  $("step-view").hidden = true;
  const view = $("filter-view");
  const layers = info.cnn.layers;
  const index = layers.findIndex((l) => l.name === layerName);
  const filters = info.cnn.filters[layerName];
  if (filters) {
    const values = filters.values.map((row) => row.map((cell) => cell[k]));
    const limit = weightScale(filters.values);
    const inputs = index > 0 ? layers[index - 1].shape[2] : 1;
    const note = inputs > 1 ? `, shown as the mean over its ${inputs} input channels` : "";
    const text = el("div", {}, el("p", { text:
      `${layerName} map #${k} is this ${values.length}x${values[0].length} filter's response` +
      `${note}: each output pixel is the sum of the input patch times these weights ` +
      "(red adds where there is ink, blue subtracts), plus a bias, through the layer's " +
      "activation." }));
    if (layerName === info.cnn.first_conv) {
      const open = el("button", { type: "button", id: "step-open",
                                  text: "Step through this filter on your digit ▸" });
      open.addEventListener("click", () => showStep(k, null, null));
      text.append(open);
    }
    view.replaceChildren(numberTable(values, limit), text);
  } else {
    const before = index > 0 ? layers[index - 1].name : "the input";
    view.replaceChildren(el("p", { text: `${layerName} map #${k} has no filter: it keeps the ` +
      `largest value of each 2x2 block of ${before}'s map #${k}, halving its height and width.` }));
  }
  view.hidden = false;
  showLayers(lastLayers);
}

// ---------------------------------------------------------------- one convolution, step by step

let stepAt = null;       // the /api/step answer shown
const STEP_ZOOM = 8;     // screen pixels per digit pixel in the step view

async function showStep(channel, row, col) {
  if (!lastInput) return;
  const form = new FormData();
  form.append("pixels", lastInput);
  form.append("channel", channel);
  if (row !== null) { form.append("row", row); form.append("col", col); }
  const view = $("step-view");
  view.hidden = false;
  try {
    stepAt = await post("/api/step", form);
    showError("step-error", "");
    drawStep(stepAt);
  } catch (err) {
    showError("step-error", err.message);
  }
}

function fixed(v) {
  return (v < 0 ? "−" : "") + Math.abs(v).toFixed(2);
}

function drawStep(step) {
  const [kh, kw] = [step.weights.length, step.weights[0].length];
  const [oh, ow] = step.out_shape;
  const pad = step.padding === "same" ? [(kh - 1) >> 1, (kw - 1) >> 1] : [0, 0];
  $("step-title").textContent = `${step.layer} filter #${step.channel} on your digit, ` +
    `one ${kh}x${kw} window at a time`;
  // The digit, with the window: its top-left pixel is the output position
  // (minus the zero padding of 'same').
  const input = bytes(lastInput);
  const canvas = $("step-input");
  const c = canvas.getContext("2d");
  c.imageSmoothingEnabled = false;
  for (let i = 0; i < 28 * 28; i++) {
    c.fillStyle = `rgb(${input[i]},${input[i]},${input[i]})`;
    c.fillRect((i % 28) * STEP_ZOOM, Math.floor(i / 28) * STEP_ZOOM, STEP_ZOOM, STEP_ZOOM);
  }
  const top = step.row - pad[0], left = step.col - pad[1];
  c.strokeStyle = ACCENT;
  c.lineWidth = 3;
  c.strokeRect(left * STEP_ZOOM, top * STEP_ZOOM, kw * STEP_ZOOM, kh * STEP_ZOOM);
  $("step-where").textContent = `window at row ${step.row}, column ${step.col} ` +
    `(output ${oh}x${ow}; the input pixels are 0-1)`;
  // The nine products, in the window's layout.
  const limit = weightScale(step.weights);
  $("step-products").replaceChildren(...step.window.map((row, r) => el("tr", {},
    ...row.map((x, q) => {
      const w = step.weights[r][q];
      return shadeByWeight(el("td", {}, el("span", { text: `${fixed(x)} × ${fixed(w)}` }),
                              el("b", { text: `= ${fixed(step.products[r][q])}` })), w, limit);
    }))));
  const act = step.activation === "relu" ? "ReLU: max(0, sum)" : step.activation;
  $("step-sum").textContent = `sum of the ${kh * kw} products ${step.sum.toFixed(4)} ` +
    `+ bias ${step.bias.toFixed(4)} = ${step.total.toFixed(4)} → ${act} → ` +
    `${step.output.toFixed(4)}`;
  // The feature map this filter makes, the position marked.
  const layer = lastLayers.find((l) => l.name === step.layer);
  const map = $("step-map");
  if (layer) {
    const [h, w] = layer.shape;
    const small = el("canvas");
    putPixels(small, w, h, bytes(layer.maps), luts.maps, step.channel * h * w);
    map.width = w * STEP_ZOOM;
    map.height = h * STEP_ZOOM;
    const m = map.getContext("2d");
    m.imageSmoothingEnabled = false;
    m.drawImage(small, 0, 0, map.width, map.height);
    m.strokeStyle = "#4c9be8";
    m.lineWidth = 3;
    m.strokeRect(step.col * STEP_ZOOM, step.row * STEP_ZOOM, STEP_ZOOM, STEP_ZOOM);
    $("step-map-caption").textContent = `${step.layer} map #${step.channel}: this ` +
      `window's output is the marked pixel (bright = strong, the layer's scale)`;
  }
}

function stepBy(delta) {
  if (!stepAt) return;
  const [oh, ow] = stepAt.out_shape;
  const index = (stepAt.row * ow + stepAt.col + delta + oh * ow) % (oh * ow);
  showStep(stepAt.channel, Math.floor(index / ow), index % ow);
}

$("step-prev").addEventListener("click", () => stepBy(-1));
$("step-next").addEventListener("click", () => stepBy(1));
$("step-strongest").addEventListener("click", () => {
  if (stepAt) showStep(stepAt.channel, null, null);
});
$("step-input").addEventListener("click", (event) => {
  if (!stepAt) return;
  const box = $("step-input").getBoundingClientRect();
  const [kh, kw] = [stepAt.weights.length, stepAt.weights[0].length];
  const [oh, ow] = stepAt.out_shape;
  const pad = stepAt.padding === "same" ? [(kh - 1) >> 1, (kw - 1) >> 1] : [0, 0];
  // The clicked pixel becomes the window's centre.
  const x = Math.floor((event.clientX - box.left) / box.width * 28);
  const y = Math.floor((event.clientY - box.top) / box.height * 28);
  const clamp = (v, n) => Math.max(0, Math.min(n - 1, v));
  showStep(stepAt.channel, clamp(y - (kh >> 1) + pad[0], oh), clamp(x - (kw >> 1) + pad[1], ow));
});

// ---------------------------------------------------------------- upload

const drop = $("drop");
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const type of ["dragleave", "drop"]) {
  drop.addEventListener(type, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
});
$("file").addEventListener("change", (e) => {
  if (e.target.files.length) upload(e.target.files[0]);
  e.target.value = "";
});

let lastFile = null, uploads = 0;  // the file shown, and how many were sent

async function upload(file) {
  lastFile = file;
  const ticket = ++uploads;  // a later upload (or mode) replaces this one's answer
  showError("upload-error", "");
  $("upload-none").hidden = true;
  $("read-view").hidden = true;
  resetDigitViews();
  if (file.size > info.max_upload_bytes) {
    showError("upload-error", `${file.name} is ${(file.size / 1e6).toFixed(1)} MB, over the ` +
      `${(info.max_upload_bytes / 1e6).toFixed(0)} MB limit; shrink the picture or save it as JPEG`);
    return;
  }
  const mode = $("mode-digit").checked ? "digit" : "read";
  $("upload-busy-text").textContent = `reading ${file.name}…`;
  const preview = $("upload-preview");
  preview.hidden = false;
  preview.onerror = () => { preview.hidden = true; };  // a format the browser cannot show
  preview.src = URL.createObjectURL(file);
  preview.onload = () => URL.revokeObjectURL(preview.src);
  $("upload-busy").hidden = false;
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const result = await post(mode === "digit" ? "/api/digit" : "/api/read", form);
    if (ticket !== uploads) return;
    if (result.no_digit) {  // an answer in either mode: no digit, and why
      showNoDigit(result, file);
    } else if (mode === "digit") {
      showDigit(result, "upload");
      showCrop(result, file);
    } else {
      showReading(result, file);
    }
  } catch (err) {
    if (ticket === uploads) showError("upload-error", err.message);
  } finally {
    if (ticket === uploads) $("upload-busy").hidden = true;
  }
}

for (const id of ["mode-read", "mode-digit"]) {
  $(id).addEventListener("change", () => { if (lastFile) upload(lastFile); });
}

function drawPicture(file, canvas, width, height, maxSide, then) {
  // The user's file on ``canvas`` at the scale of the server's width x height,
  // shrunk to fit maxSide = [width, height].
  const scale = Math.min(1, maxSide[0] / width, maxSide[1] / height);
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const c = canvas.getContext("2d");
  const picture = new Image();
  const url = URL.createObjectURL(file);
  const draw = (ok) => {
    c.fillStyle = "#ddd";
    c.fillRect(0, 0, canvas.width, canvas.height);
    if (ok) c.drawImage(picture, 0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(url);
    then(c, scale);
  };
  picture.onload = () => draw(true);
  picture.onerror = () => draw(false);  // a format the browser cannot show: boxes only
  picture.src = url;
}

function showCrop(result, file) {
  // One digit is read; a picture of several says so, as visualize_layers.py does.
  const others = $("crop-others");
  others.hidden = !(result.candidates > 1);
  others.textContent = `${result.candidates} characters in it could be digits; this one is `
    + "the largest near the middle. To read them all, choose \u201cwritten numbers\u201d.";
  drawPicture(file, $("digit-crop"), result.width, result.height, [280, 280], (c, scale) => {
    const [x0, y0, x1, y1] = result.crop.map((v) => v * scale);
    c.strokeStyle = ACCENT;
    c.lineWidth = 3;
    c.strokeRect(x0, y0, x1 - x0, y1 - y0);
  });
}

function showNoDigit(result, file) {
  // The picture, with the marks set aside (a page's) or the one that came
  // closest (one digit's), when there were any, in dashed boxes.
  $("upload-none-text").textContent = `${file.name}: ${result.no_digit}`;
  $("upload-none").hidden = false;
  drawPicture(file, $("none-crop"), result.width, result.height, [280, 280], (c, scale) => {
    c.strokeStyle = "#c5221f";
    c.setLineDash([6, 4]);
    c.lineWidth = 2;
    for (const box of result.boxes || (result.crop ? [result.crop] : [])) {
      // A few pixels off the mark, so a small dot does not hide its box.
      const [x0, y0, x1, y1] = box.map((v) => v * scale);
      c.strokeRect(x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8);
    }
  });
}

function labelBox(box, size, width, canvasWidth, canvasHeight, taken = []) {
  // Where a box's label goes: above the box, or inside its top when the box
  // touches the picture's top; never past the picture's edges. Where that
  // would cover a label already drawn (``taken``, [x, y, w, h] each; a
  // narrow '1' beside its neighbour), under the box instead. [x, y, w, h]
  const [x0, y0, , y1] = box;
  const h = size + 4;
  const x = Math.max(0, Math.min(x0, canvasWidth - width));
  const above = y0 - h >= 0 ? y0 - h : Math.max(0, Math.min(y0, canvasHeight - h));
  const overlaps = (y) => taken.some(([tx, ty, tw, th]) =>
    x < tx + tw && tx < x + width && y < ty + th && ty < y + h);
  const y = overlaps(above) && y1 !== undefined ? Math.min(y1, canvasHeight - h) : above;
  return [x, y, width, h];
}

let lastJson = null;

// The text report, a row per line. A row too long for a phone wraps under
// its own start: a line of writing's digit scores under its first score, a
// number's verdict under the words after "number", so the columns still read.
function showReport(pre, text) {
  pre.replaceChildren(...text.split("\n").map((line) => {
    const row = document.createElement("span");
    row.className = "report-row";
    // A line of writing: its text (numbers apart by one space), then its scores.
    const scores = line.match(/^ +\S+(?: \S+)* {2,}/);
    // A digit and its chance ("7 99%") stay on one line together.
    row.textContent = scores ? line.replace(/([0-9?]) (?=[0-9.]+%)/g, "$1\u00a0") : line;
    const lead = scores ? scores[0].length : line.search(/\S|$/) + 2;
    row.style.paddingLeft = `${lead}ch`;
    row.style.textIndent = `-${lead}ch`;
    return row;
  }));
}

function showReading(result, file) {
  lastJson = { text: result.json, name: `${file.name.replace(/\.[^.]*$/, "")}.json` };
  $("read-file").textContent = result.reading.file;
  $("read-text").value = result.text;
  $("read-text").rows = Math.max(2, result.reading.lines.length);
  showReport($("read-report"), result.report);
  $("read-view").hidden = false;
  drawPicture(file, $("page"), result.width, result.height, [900, Infinity], (c, scale) => {
    // A number the reader does not vouch for, even with every digit shown,
    // gets a dashed frame: the one to check by eye.
    for (const n of result.reading.numbers || []) {
      if (!n.unsure) continue;
      const [x0, y0, x1, y1] = n.box.map((v) => v * scale);
      c.strokeStyle = UNSURE;
      c.setLineDash([5, 3]);
      c.lineWidth = 1.5;
      c.strokeRect(x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8);
      c.setLineDash([]);
    }
    const taken = [];
    for (const d of result.reading.digits) {
      const [x0, y0, x1, y1] = d.box.map((v) => v * scale);
      const colour = d.unsure ? UNSURE : SURE;
      c.strokeStyle = colour;
      c.lineWidth = 2;
      c.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const label = d.unsure ? `?${d.top2[0][0]}/${d.top2[1][0]}` : String(d.digit);
      const size = Math.max(11, Math.min(26, 0.45 * (y1 - y0)));
      c.font = `bold ${size}px system-ui, sans-serif`;
      const [x, y, w, h] = labelBox([x0, y0, x1, y1], size, c.measureText(label).width + 6,
                                    c.canvas.width, c.canvas.height, taken);
      taken.push([x, y, w, h]);
      c.fillStyle = colour;
      c.fillRect(x, y, w, h);
      c.fillStyle = "white";
      c.fillText(label, x + 3, y + size - 1);
    }
  });
}

$("copy-text").addEventListener("click", async () => {
  const text = $("read-text");
  try {
    await navigator.clipboard.writeText(text.value);
  } catch (err) {
    text.select();
    document.execCommand("copy");
  }
  $("copy-text").textContent = "Copied";
  setTimeout(() => { $("copy-text").textContent = "Copy the text"; }, 1500);
});

$("download-json").addEventListener("click", () => {
  if (!lastJson) return;
  const link = el("a", { href: URL.createObjectURL(new Blob([lastJson.text + "\n"],
    { type: "application/json" })), download: lastJson.name });
  document.body.append(link);
  link.click();
  link.remove();
});

// ---------------------------------------------------------------- learn

let convFile = null, convTimer = null;

async function runConv() {
  const form = new FormData();
  form.append("kernel", $("kernel").value);
  if (convFile) form.append("file", convFile, convFile.name);
  try {
    showConv(await post("/api/conv", form));
    showError("conv-error", "");
  } catch (err) {
    showError("conv-error", err.message);
  }
}

function figure(src, caption, zoom = false) {
  return el("figure", {}, el("img", { src, alt: caption, class: zoom ? "zoom" : "" }),
            el("figcaption", { text: caption }));
}

function showConv(demo) {
  const yours = demo.filtered[demo.filtered.length - 1];
  const tiles = [figure(demo.input, `input ${demo.shape} (${demo.source})`),
    ...demo.filtered.map((f) => {
      const fig = figure(f.image, `${f.name}: ${f.note}`);
      fig.append(numberTable(f.kernel, weightScale(f.kernel)));
      return fig;
    })];
  const ex = demo.example;
  $("conv-view").replaceChildren(
    el("h2", { text: "Convolution with padding 'same': the output keeps the input's size" }),
    el("p", { text: `Your ${yours.kernel.length}x${yours.kernel.length} kernel: 'same' ` +
      `${demo.shape} → ${yours.shape}; 'valid' (only where the kernel fits) ${demo.shape} → ` +
      `${demo.valid_shape}.` }),
    el("div", { class: "conv-grid", id: "conv-images" }, ...tiles),
    el("h2", { text: "Padding: a 3x3 kernel of ones on a 5x5 input" }),
    el("div", { class: "pad-grid" },
       labelled("input, 5x5", numberTable(ex.input)),
       labelled("kernel (sums each window)", numberTable(ex.kernel)),
       labelled("'valid': 3x3, only where it fits", numberTable(ex.valid)),
       labelled("'same' pads with zeros: 7x7", numberTable(ex.padded, 0, true)),
       labelled("'same': 5x5, the input's size", numberTable(ex.same))),
    el("h2", { text: "Max-pooling keeps the largest value of each 2x2 block" }),
    el("div", { class: "pool-grid" }, figure(demo.input, `input ${demo.shape}`),
       figure(demo.pooled, `after 2x2 max-pooling ${demo.pooled_shape}: a quarter of the ` +
              "pixels, shown at the same size", true)));
}

function labelled(text, table) {
  return el("div", {}, el("p", { class: "hint", text }), table);
}

$("kernel").addEventListener("input", () => {
  clearTimeout(convTimer);
  convTimer = setTimeout(runConv, 300);
});
$("conv-form").addEventListener("submit", (e) => { e.preventDefault(); runConv(); });
$("conv-file").addEventListener("change", (e) => {
  if (e.target.files.length) { convFile = e.target.files[0]; runConv(); }
  e.target.value = "";
});
$("conv-photo").addEventListener("click", () => { convFile = null; runConv(); });

// ---------------------------------------------------------------- start

function names(list) {
  return list.length < 2 ? list.join("") :
    `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
}

function showModels() {
  // What works now first, then one short line per thing to add or fix.
  const cnn = info.models.find((m) => m.name === "cnn");
  const ready = info.models.filter((m) => m.available);
  const untrained = info.models.filter((m) => !m.available &&
                                               m.problem.startsWith("not trained yet"));
  const broken = info.models.filter((m) => !m.available && !untrained.includes(m));
  const lower = (m) => (m.name === "cnn" ? m.title : m.title.toLowerCase());
  const answering = cnn.stand_in ? "the shipped reader CNN" :
    ready.length === 4 ? "all four models" : names(ready.map(lower));
  const works = [ready.length ? `Draw (answered by ${answering})` : null,
                 info.reads_pages ? "Upload" : null, "Learn"].filter(Boolean);
  const status = $("model-status");
  status.replaceChildren(el("span", { id: "status-works",
                                      text: `Works now: ${works.join(" · ")}.` }));
  const others = untrained.filter((m) => m.name !== "cnn");
  if (others.length) {
    status.append(" ", el("span", { id: "status-add" },
      `Add ${names(others.map(lower))} with `, el("code", { text: info.baselines_command }),
      "."));
  }
  if (untrained.some((m) => m.name === "cnn")) {
    status.append(" ", el("span", { text: "Train the CNN with " },
                          el("code", { text: "python train_cnn.py" }), "."));
  }
  for (const m of broken) {
    status.append(" ", el("span", { class: "missing", text: `${m.title}: ${m.problem}` }));
  }
}

async function start() {
  try {
    const response = await fetch("/api/info");
    info = await response.json();
  } catch (err) {
    $("model-status").textContent = "The server did not answer; start it with python app.py.";
    return;
  }
  for (const [use, b64] of Object.entries(info.colormaps)) luts[use] = bytes(b64);
  $("limit").textContent = `${(info.max_upload_bytes / 1e6).toFixed(0)} MB`;
  $("kernel").value = info.default_kernel;
  const presets = { ...info.kernels, "Sobel x": null };
  for (const [name, kernel] of Object.entries(presets)) {
    const button = el("button", { type: "button", text: name });
    button.addEventListener("click", () => {
      $("kernel").value = kernel ? kernel.map((row) => row.map((v) => +v.toFixed(4)).join(", "))
        .join(",  ") : info.default_kernel;
      runConv();
    });
    $("presets").append(button);
  }
  showModels();
  for (const tab of ["draw", "upload", "learn"]) {
    $(`tab-${tab}`).addEventListener("click", () => selectTab(tab));
  }
  paint();
  selectTab("draw");
  document.body.dataset.ready = "true";
}

start();
