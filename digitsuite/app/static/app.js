// digitsuite app: the page's logic. Every computation happens on the server
// (the suite's own code); this script draws, sends and shows.
"use strict";

const SEND_SIDE = 140;   // the drawing is sent at this size (the server prepares it MNIST-style)
const DEBOUNCE_MS = 40;  // wait this long after the pen moves before asking again
const PEN = 20;          // pen width on the 280-pixel pad
const TOP_MAPS = 8;      // maps shown per layer until "all" is clicked

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
let timer = null, busy = false, again = false;

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

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  strokes.push([point(event)]);
  paint();
  schedule();
});
pad.addEventListener("pointermove", (event) => {
  if (!pad.hasPointerCapture(event.pointerId)) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) strokes[strokes.length - 1].push(point(e));
  paint();
  schedule();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (event) => {
    if (pad.hasPointerCapture(event.pointerId)) pad.releasePointerCapture(event.pointerId);
  });
}
$("undo").addEventListener("click", () => { strokes.pop(); paint(); schedule(); });
$("clear").addEventListener("click", () => { strokes.length = 0; paint(); schedule(); });

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(sendDrawing, DEBOUNCE_MS);
}

async function sendDrawing() {
  if (busy) { again = true; return; }   // one request at a time; the latest drawing next
  if (!strokes.length) { resetDigitViews(); return; }
  busy = true;
  const small = el("canvas", { width: SEND_SIDE, height: SEND_SIDE });
  const sctx = small.getContext("2d");
  sctx.imageSmoothingQuality = "high";
  sctx.drawImage(pad, 0, 0, SEND_SIDE, SEND_SIDE);
  const blob = await new Promise((resolve) => small.toBlob(resolve, "image/png"));
  const form = new FormData();
  form.append("file", blob, "your drawing");
  try {
    showDigit(await post("/api/digit", form));
  } catch (err) {
    showError("digit-error", err.message);
  } finally {
    busy = false;
    if (again) { again = false; sendDrawing(); }
  }
}

// ---------------------------------------------------------------- one digit's views

function resetDigitViews() {
  $("digit-views").hidden = true;
  $("digit-error").hidden = true;
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

function showDigit(result) {
  showError("digit-error", "");
  $("digit-views").hidden = false;
  const input = bytes(result.input);
  putPixels($("input28"), 28, 28, input, null);
  const answers = Object.fromEntries(result.models.map((m) => [m.name, m]));
  const rows = info.models.map((m) => {
    const a = answers[m.name];
    if (!a) {
      return el("tr", { id: `model-${m.name}`, class: "off" }, el("td", { text: m.title }),
                el("td", { class: "answer", text: "–" }),
                el("td", { colspan: 2, text: m.problem || "no answer" }));
    }
    return el("tr", { id: `model-${m.name}` }, el("td", { text: m.title }),
              el("td", { class: "answer", text: a.predicted }),
              el("td", { text: percent(a.confidence) }),
              el("td", {}, spark(a.probabilities, a.predicted)));
  });
  $("models").tBodies[0].replaceChildren(...rows);
  const cnn = answers.cnn;
  $("cnn-answer").textContent = cnn ? `${cnn.predicted} (${percent(cnn.confidence)})`
                                    : "not trained";
  if (cnn) probabilityBars($("cnn-probs"), cnn.probabilities);
  if (result.saliency) {
    const heat = bytes(result.saliency), mixed = new Uint8Array(28 * 28 * 3);
    for (let i = 0; i < 28 * 28; i++) {  // grey input under the 'hot' map, 55 % opaque
      for (let c = 0; c < 3; c++) {
        mixed[3 * i + c] = 0.45 * input[i] + 0.55 * luts.saliency[3 * heat[i] + c];
      }
    }
    putRgb($("saliency"), 28, 28, mixed);
  }
  showLayers(result.layers);
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

function numberTable(rows, limit, shadeBorder = false) {
  // A grid of numbers; with limit, cells coloured red (+) / blue (-) like the suite's filters.
  const size = rows.length;
  return el("table", { class: "numbers" }, ...rows.map((row, r) => el("tr", {}, ...row.map((v, c) => {
    const cell = el("td", { text: Number.isInteger(v) ? v : v.toFixed(2) });
    if (shadeBorder && (r === 0 || c === 0 || r === size - 1 || c === row.length - 1)) {
      cell.className = "pad";
    } else if (limit) {
      const k = Math.round(127.5 + 127.5 * Math.max(-1, Math.min(1, v / limit)));
      const [R, G, B] = luts.filters.subarray(3 * k, 3 * k + 3);
      cell.style.background = `rgb(${R},${G},${B})`;
      cell.style.color = Math.abs(v) > 0.6 * limit ? "white" : "black";
    }
    return cell;
  }))));
}

function chooseMap(layerName, k) {
  chosen = { layer: layerName, map: k };
  const view = $("filter-view");
  const layers = info.cnn.layers;
  const index = layers.findIndex((l) => l.name === layerName);
  const filters = info.cnn.filters[layerName];
  if (filters) {
    const values = filters.values.map((row) => row.map((cell) => cell[k]));
    const limit = Math.max(1e-6, ...filters.values.flat(2).map(Math.abs));
    const inputs = index > 0 ? layers[index - 1].shape[2] : 1;
    const note = inputs > 1 ? `, shown as the mean over its ${inputs} input channels` : "";
    view.replaceChildren(numberTable(values, limit), el("p", { text:
      `${layerName} map #${k} is this ${values.length}x${values[0].length} filter's response` +
      `${note}: each output pixel is the sum of the input patch times these weights ` +
      "(red adds where there is ink, blue subtracts), plus a bias, through the layer's " +
      "activation." }));
  } else {
    const before = index > 0 ? layers[index - 1].name : "the input";
    view.replaceChildren(el("p", { text: `${layerName} map #${k} has no filter: it keeps the ` +
      `largest value of each 2x2 block of ${before}'s map #${k}, halving its height and width.` }));
  }
  view.hidden = false;
  showLayers(lastLayers);
}

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

async function upload(file) {
  showError("upload-error", "");
  $("read-view").hidden = true;
  resetDigitViews();
  if (file.size > info.max_upload_bytes) {
    showError("upload-error", `${file.name} is ${(file.size / 1e6).toFixed(1)} MB, over the ` +
      `${(info.max_upload_bytes / 1e6).toFixed(0)} MB limit; shrink the picture or save it as JPEG`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const mode = $("mode-digit").checked ? "digit" : "read";
  try {
    const result = await post(mode === "digit" ? "/api/digit" : "/api/read", form);
    if (mode === "digit") showDigit(result); else showReading(result, file);
  } catch (err) {
    showError("upload-error", err.message);
  }
}

let lastJson = null;

function showReading(result, file) {
  lastJson = { text: result.json, name: `${file.name.replace(/\.[^.]*$/, "")}.json` };
  $("read-file").textContent = result.reading.file;
  $("read-text").value = result.text;
  $("read-text").rows = Math.max(2, result.reading.lines.length);
  $("read-report").textContent = result.report;
  $("read-view").hidden = false;
  const picture = new Image();
  const url = URL.createObjectURL(file);
  const draw = (ok) => {
    const canvas = $("page");
    const scale = Math.min(1, 900 / result.width);
    canvas.width = Math.round(result.width * scale);
    canvas.height = Math.round(result.height * scale);
    const c = canvas.getContext("2d");
    c.fillStyle = "#ddd";
    c.fillRect(0, 0, canvas.width, canvas.height);
    if (ok) c.drawImage(picture, 0, 0, canvas.width, canvas.height);
    for (const d of result.reading.digits) {
      const [x0, y0, x1, y1] = d.box.map((v) => v * scale);
      const colour = d.unsure ? "#e8710a" : "#1e8e3e";
      c.strokeStyle = colour;
      c.lineWidth = 2;
      c.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const label = d.unsure ? `?${d.top2[0][0]}/${d.top2[1][0]}` : String(d.digit);
      const size = Math.max(11, Math.min(26, 0.45 * (y1 - y0)));
      c.font = `bold ${size}px system-ui, sans-serif`;
      const width = c.measureText(label).width + 6;
      c.fillStyle = colour;
      c.fillRect(x0, y0 - size - 4, width, size + 4);
      c.fillStyle = "white";
      c.fillText(label, x0 + 3, y0 - 5);
    }
    URL.revokeObjectURL(url);
  };
  picture.onload = () => draw(true);
  picture.onerror = () => draw(false);  // a format the browser cannot show: boxes only
  picture.src = url;
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
      const limit = Math.max(1e-6, ...f.kernel.flat().map(Math.abs));
      const fig = figure(f.image, `${f.name}: ${f.note}`);
      fig.append(numberTable(f.kernel, limit));
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

function showModels() {
  const parts = info.models.map((m) => m.available
    ? el("span", { text: `${m.title} ✓` })
    : el("span", { class: "missing", text: `${m.title}: ${m.problem}` }));
  const status = $("model-status");
  status.replaceChildren();
  parts.forEach((part, i) => status.append(...(i ? [" · ", part] : [part])));
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
