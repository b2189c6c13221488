// The generate page: the form (built from the chosen model's parameter schema), the prompt
// preview, and a generation followed live through its job's progress stream.
import { api, apiError, copyText, describeError, el, page, t, toast } from "./common.js";
import { follow } from "./progress.js";
import { buildParams, readParams, setParamValues } from "./params.js";
import { openViewer } from "./lightbox.js";
import { save, zip } from "./zip.js";

const models = new Map(page.models.map((m) => [m.id, m]));
const form = document.getElementById("gen-form");
const promptBox = document.getElementById("prompt");
const modelSelect = document.getElementById("model");
const widthInput = document.getElementById("width");
const heightInput = document.getElementById("height");
const seedInput = document.getElementById("seed");
const nSelect = document.getElementById("n");
const translateSelect = document.getElementById("translate");
const enhanceBox = document.getElementById("enhance");
const preview = document.getElementById("preview");
const finalPrompt = document.getElementById("final-prompt");
const button = document.getElementById("generate-button");
const formError = document.getElementById("form-error");
const status = document.getElementById("status");
const grid = document.getElementById("result-grid");
const summary = document.getElementById("result-summary");
const emptyState = document.getElementById("empty-state");
const stages = document.getElementById("stages");
const zipButton = document.getElementById("download-zip");
const batchActions = document.getElementById("batch-actions");
const batchBar = document.getElementById("batch-bar");
const styleHint = document.getElementById("style-hint");
const JOB_KEY = "flux-remix-job";

const ASPECTS = [
  ["1:1", 1, 1],
  ["4:3", 4, 3],
  ["3:4", 3, 4],
  ["3:2", 3, 2],
  ["2:3", 2, 3],
  ["16:9", 16, 9],
  ["9:16", 9, 16],
];

let previewed = null; // {source, mode, enhance, text, translator}: what the preview was made from

function spec() {
  return models.get(modelSelect.value) ?? page.models[0];
}

// --- size: aspect presets mapped onto the model's legal sizes -------------------------------

/** The multiple-of-64 size within the model's limits nearest `w:h` at its default area. */
export function sizeFor(size, w, h) {
  const area = size.default_width * size.default_height;
  const lo = Math.ceil(size.min / 64) * 64;
  const hi = Math.floor(size.max / 64) * 64;
  const clamp = (v) => Math.min(hi, Math.max(lo, Math.round(v / 64) * 64));
  return [clamp(Math.sqrt((area * w) / h)), clamp(Math.sqrt((area * h) / w))];
}

function renderSize() {
  const { size, name } = spec();
  const aspects = document.getElementById("aspects");
  const inputs = document.getElementById("size-inputs");
  const hint = document.getElementById("size-hint");
  aspects.replaceChildren();
  if (size.fixed) {
    inputs.hidden = true;
    aspects.hidden = true;
    hint.textContent = t("size_fixed", { model: name, w: size.default_width, h: size.default_height });
    return;
  }
  inputs.hidden = false;
  aspects.hidden = false;
  for (const input of [widthInput, heightInput]) {
    input.min = size.min;
    input.max = size.max;
  }
  const keep = Number(widthInput.value) && Number(heightInput.value);
  if (!keep || !inRange(size, widthInput.value) || !inRange(size, heightInput.value)) {
    widthInput.value = size.default_width;
    heightInput.value = size.default_height;
  }
  for (const [label, w, h] of ASPECTS) {
    const [sw, sh] = sizeFor(size, w, h);
    const id = `aspect-${label.replace(":", "x")}`;
    const radio = el("input", { type: "radio", name: "aspect", id, value: label, class: "chip-input" });
    radio.dataset.width = sw;
    radio.dataset.height = sh;
    radio.addEventListener("change", () => {
      widthInput.value = sw;
      heightInput.value = sh;
      clearFieldErrors();
    });
    aspects.append(
      radio,
      el("label", { for: id, class: "chip", title: `${sw}×${sh}` },
        el("span", { class: "ratio-box", "aria-hidden": "true" }, shapeOf(w, h)), label),
    );
  }
  hint.textContent = t("size_range", { min: size.min, max: size.max });
  syncAspect();
}

function shapeOf(w, h) {
  const box = el("span", { class: "ratio-shape" });
  const scale = 14 / Math.max(w, h);
  box.style.width = `${Math.round(w * scale)}px`;
  box.style.height = `${Math.round(h * scale)}px`;
  return box;
}

function inRange(size, value) {
  const v = Number(value);
  return Number.isInteger(v) && v >= size.min && v <= size.max;
}

function syncAspect() {
  for (const radio of document.querySelectorAll('input[name="aspect"]')) {
    radio.checked =
      radio.dataset.width === widthInput.value && radio.dataset.height === heightInput.value;
  }
}

// --- the model and its parameters -----------------------------------------------------------

function renderModel() {
  const m = spec();
  const cost = m.default_neurons > 0 ? t("model_cost", { n: m.default_neurons }) : t("model_free");
  document.getElementById("model-info").replaceChildren(
    ...(m.description ? [m.description, el("br")] : []),
    cost,
  );
  renderSize();
  buildParams(m, {
    main: document.getElementById("image-params"),
    advanced: document.getElementById("advanced-params"),
  });
  seedInput.closest(".seed-field").hidden = !m.takes_seed;
  document.getElementById("seed-hint").textContent =
    m.takes_seed ? t("seed_hint") : t("seed_none", { model: m.name });
  document.getElementById("advanced").hidden =
    document.getElementById("advanced-params").childElementCount === 0;
}

// --- the English prompt preview -------------------------------------------------------------

function translateMode() {
  return translateSelect.value;
}

function previewMatches() {
  return (
    previewed &&
    previewed.source === promptBox.value &&
    previewed.mode === translateMode() &&
    previewed.enhance === Boolean(enhanceBox.checked)
  );
}

async function showPreview() {
  const text = promptBox.value.trim();
  if (!text) return showFieldError("prompt", t("err_required"));
  const previewButton = document.getElementById("preview-button");
  previewButton.disabled = true;
  previewButton.textContent = t("previewing");
  try {
    const body = { prompt: text, translate: translateMode(), model: modelSelect.value };
    body.enhance = enhanceBox.checked;
    const res = await api("/api/v1/prompt", { method: "POST", body });
    previewed = {
      source: promptBox.value,
      mode: translateMode(),
      enhance: Boolean(enhanceBox.checked),
      text: res.final_prompt,
      translator: res.translator,
      enhanced: res.enhanced,
    };
    finalPrompt.value = res.final_prompt;
    if (res.aspect_hint && !spec().size.fixed) {
      widthInput.value = res.width; // the "16:9" cut from the prompt becomes the chosen size
      heightInput.value = res.height;
      syncAspect();
    }
    document.getElementById("preview-by").textContent = t("preview_by", {
      translator: translatorName(res.translator, res.enhanced),
    });
    document.getElementById("preview-stale").hidden = true;
    preview.hidden = false;
    finalPrompt.focus();
  } catch (err) {
    showError(err);
  } finally {
    previewButton.disabled = false;
    previewButton.textContent = t("preview");
  }
}

function discardPreview() {
  previewed = null;
  preview.hidden = true;
  promptBox.focus();
}

function translatorName(translator, enhanced) {
  const name = t(`translator_${translator}`);
  return enhanced ? `${name} + ${t("enhance")}` : name;
}

// --- style presets ------------------------------------------------------------------------

function chosenStyle() {
  return document.querySelector('input[name="style"]:checked')?.value ?? "";
}

function setStyle(id) {
  const radio = document.getElementById(id ? `style-${id}` : "style-none");
  if (radio) radio.checked = true;
  showStyleWords();
}

function showStyleWords() {
  const radio = document.querySelector('input[name="style"]:checked');
  const words = radio?.dataset.words;
  styleHint.hidden = !words;
  styleHint.textContent = words ? t("style_adds", { words }) : "";
}

// --- before the first image: recent images, or example prompts ----------------------------

function viewerItem(image, prompt, filename) {
  return {
    url: image.url,
    width: image.width,
    height: image.height,
    alt: prompt,
    caption: prompt,
    filename,
  };
}

async function showEmptyState() {
  let recent = [];
  try {
    recent = (await api("/api/v1/images?limit=8")).images;
  } catch {
    recent = []; // no history here (or not reachable): the examples still help
  }
  if (current || emptyState.hidden) return; // a generation started meanwhile
  if (!recent.length) {
    document.getElementById("examples").hidden = false;
    return;
  }
  const items = recent.map((r) => viewerItem(r, r.prompt, fileName(r.id, r.mime_type)));
  const list = document.getElementById("recent-grid");
  list.replaceChildren(
    ...recent.map((record, i) => {
      const button = el("button", {
        type: "button",
        class: "thumb",
        title: record.prompt,
        "aria-label": `${t("view_full")}: ${record.prompt}`,
        onclick: () => openViewer(items, i, button),
      }, el("img", {
        src: record.url,
        width: record.width,
        height: record.height,
        alt: record.prompt,
      }));
      return el("li", {}, button);
    }),
  );
  document.getElementById("recent").hidden = false;
}

/** `flux-remix-{id}.png`, or `flux-remix-{n}-{id}.png` as the n-th image of a ZIP. */
function fileName(imageId, mime, n = 0) {
  const ext = mime === "image/jpeg" ? "jpg" : "png";
  return `flux-remix-${n ? `${n}-` : ""}${imageId.slice(0, 12)}.${ext}`;
}

/** The results panel before any generation (`empty`), or following one. */
function showEmpty(empty) {
  emptyState.hidden = !empty;
  stages.hidden = empty;
  batchBar.hidden = empty;
}

// --- errors ---------------------------------------------------------------------------------

function clearFieldErrors() {
  for (const node of document.querySelectorAll("[data-error-for]")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  formError.hidden = true;
  formError.textContent = "";
}

function showFieldError(field, message) {
  const slot = document.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  const input = form.elements.namedItem(field);
  if (input instanceof Element) {
    input.setAttribute("aria-invalid", "true");
    input.closest("details")?.setAttribute("open", "");
    input.focus();
  }
  if (slot) slot.textContent = message;
  formError.hidden = false;
  formError.textContent = message;
}

function showError(err) {
  const message = describeError(err);
  if (err.param) {
    showFieldError(err.param.split(".")[0], message);
  } else {
    formError.hidden = false;
    formError.textContent = message;
  }
}

// --- generating -----------------------------------------------------------------------------

async function fileData(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function requestBody() {
  const m = spec();
  const body = { prompt: promptBox.value.trim(), model: m.id, n: Number(nSelect.value) };
  body.translate = translateMode();
  body.enhance = enhanceBox.checked;
  if (!preview.hidden && previewMatches() && finalPrompt.value.trim()) {
    body.prompt = finalPrompt.value.trim(); // the English prompt, as previewed and edited
    body.translate = "off";
    body.enhance = false;
  }
  const [w, h] = [Number(widthInput.value), Number(heightInput.value)];
  if (!m.size.fixed && (w !== m.size.default_width || h !== m.size.default_height)) {
    body.width = w; // a size the user chose; otherwise the server decides (and reads "16:9" hints)
    body.height = h;
  }
  const style = chosenStyle();
  if (style) body.style = style; // its words join the prompt on the server (shown in the hint)
  if (seedInput.value !== "" && !seedInput.closest(".seed-field").hidden) {
    body.seed = Number(seedInput.value);
  }
  Object.assign(body, await readParams(m, fileData));
  return body;
}

function setBusy(busy) {
  button.disabled = busy;
  button.textContent = busy ? t("generating") : t("generate");
  form.setAttribute("aria-busy", String(busy));
}

/** Mark the progress steps: those before `stage` done, `stage` active (all done when complete). */
function setStage(stage, complete = false) {
  const order = ["queued", "translating", "generating", "stored"];
  const reached = order.indexOf(stage);
  for (const item of document.querySelectorAll("#stages li")) {
    const index = order.indexOf(item.dataset.stage);
    item.classList.toggle("done", index < reached || (complete && index === reached));
    item.classList.toggle("active", index === reached && !complete);
    if (index === reached && !complete) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  }
}

/** Boxes of the final size, so nothing moves when the images arrive. */
function reserve(count, width, height) {
  grid.replaceChildren();
  grid.dataset.count = String(count);
  for (let i = 0; i < count; i++) grid.append(card(null, { width, height, seed: "…", neurons: "…" }));
}

function showPrompts(original, final, badge) {
  document.getElementById("result-prompts").hidden = false;
  document.getElementById("result-original").textContent = original;
  document.getElementById("result-final").textContent = final;
  document.getElementById("result-translator").textContent = badge;
}

let current = null; // the job being followed: {id, original, badge, w, h, n}

async function generate() {
  clearFieldErrors();
  if (!promptBox.value.trim()) return showFieldError("prompt", t("err_required"));
  if (current) return;
  const started = Date.now(); // the click: "Done in" counts from here to the stored images
  setBusy(true);
  let body;
  try {
    body = await requestBody();
  } catch (err) {
    setBusy(false);
    return showError(err);
  }
  const m = spec();
  const w = body.width ?? m.size.default_width;
  const h = body.height ?? m.size.default_height;
  // the badge beside the prompt sent: who made it, when the previewed English prompt is used
  let badge = null;
  if (body.translate === "off" && previewed !== null && body.prompt === finalPrompt.value.trim()) {
    badge = body.prompt === previewed.text
      ? translatorName(previewed.translator, previewed.enhanced)
      : t("translator_edited");
  }
  try {
    const job = await api("/api/v1/jobs", { method: "POST", body });
    current = { id: job.id, original: promptBox.value.trim(), badge, w, h, n: body.n, started };
    sessionStorage.setItem(JOB_KEY, JSON.stringify(current));
    summary.textContent = "";
    batchActions.hidden = true;
    showEmpty(false);
    status.classList.remove("error");
    showPrompts(current.original, "…", "");
    reserve(body.n, w, h);
    const results = document.getElementById("results");
    if (results.getBoundingClientRect().top > innerHeight * 0.6) {
      results.scrollIntoView({ behavior: "smooth", block: "start" }); // phones: results are below
    }
    track(job);
  } catch (err) {
    setBusy(false);
    showError(err);
  }
}

function track(job) {
  setBusy(true);
  let after = 0;
  for (const event of job.events ?? []) {
    handle(event.event, event.data);
    after = event.id;
  }
  if (job.status && job.status !== "queued" && job.status !== "running") return;
  follow(job.id, after, {
    onEvent: (kind, data) => handle(kind, data),
    onReconnecting: () => {
      status.textContent = t("reconnecting");
      status.classList.add("warn");
    },
    onResumed: () => {
      status.classList.remove("warn");
      toast(t("resumed"));
    },
    onLost: (err) => finish(err ?? t("job_lost")),
  });
}

function handle(kind, data) {
  if (kind === "stage") {
    const stage = data.stage;
    if (stage === "queued") {
      // the place in the queue (and a wait estimate) when others are ahead
      const place = data.position > 1 ? ` · #${data.position}` : "";
      const wait = data.position > 1 && data.wait_s ? ` · ~${Math.ceil(data.wait_s)} s` : "";
      status.textContent = t("status_queued") + place + wait;
    }
    if (stage === "translating") {
      status.textContent = t(data.enhance ? "status_enhancing" : "status_translating");
    }
    if (stage === "generating") {
      const name = models.get(data.model)?.name ?? spec().name;
      status.textContent = t("status_generating", { n: data.n ?? 1, model: name });
      if (data.prompt && current) showPrompts(current.original, data.prompt, "");
    }
    if (stage === "done") status.textContent = t("status_done");
    if (stage === "stored") markStored();
    setStage(stage === "done" ? "stored" : stage);
  } else if (kind === "result") {
    setStage("stored", true);
    showResult(data);
    finish(null);
  } else if (kind === "failure") {
    finish(apiError(data.status, data));
  }
}

function markStored() {
  grid.querySelector(".frame.pending")?.classList.replace("pending", "stored");
}

function finish(failure) {
  sessionStorage.removeItem(JOB_KEY);
  current = null;
  setBusy(false);
  status.classList.remove("warn");
  if (failure) {
    setStage(null);
    grid.replaceChildren();
    const message = typeof failure === "string" ? failure : describeError(failure);
    status.textContent = message;
    status.classList.add("error");
    if (failure.param) showFieldError(failure.param.split(".")[0], message);
  }
}

function showResult(result) {
  const original = current?.original ?? result.prompt;
  const badge = current?.badge ?? translatorName(result.translator, result.enhanced);
  showPrompts(original, result.final_prompt, badge);
  grid.replaceChildren();
  grid.dataset.count = String(result.images.length);
  const items = result.images.map((image) =>
    viewerItem(image, result.prompt, fileName(image.id, image.mime_type)));
  result.images.forEach((image, i) => grid.append(card(result, image, items, i)));
  // from the click to the stored images, as the person waited (the server's total_ms leaves
  // out the request, the queue and the stream, and is near 0 for a cached image)
  const elapsed = current?.started ? Date.now() - current.started : (result.timings?.total_ms ?? 0);
  status.textContent = elapsed < 1000
    ? t("status_stored_ms", { ms: Math.max(1, Math.round(elapsed)) })
    : t("status_stored", { s: (elapsed / 1000).toFixed(1) });
  status.dataset.elapsedMs = String(Math.round(elapsed));
  offerZip(result);
  revealResult();
  const parts = [t("neurons_total", { neurons: result.neurons })];
  if (result.cache === "hit") parts.push(t("cache_hit"));
  if (result.errors?.length) {
    parts.push(
      t("partial_failure", {
        failed: result.errors.length,
        total: result.errors.length + result.images.length,
        error: result.errors[0].message,
      }),
    );
  }
  summary.textContent = parts.join(" · ");
}

/** Phones: the results sit below the form, so bring the finished images into view. */
function revealResult() {
  if (!matchMedia("(max-width: 919px)").matches) return; // side by side (app.css): in view
  const box = grid.getBoundingClientRect();
  if (box.top < 0 || box.top > innerHeight * 0.5) {
    const behavior = matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
    // the summary and ZIP button just above the images, then the images
    batchBar.scrollIntoView({ behavior, block: "start" });
  }
}

function offerZip(result) {
  const count = result.images.length;
  batchActions.hidden = count < 2;
  zipButton.textContent = t("download_zip", { n: count });
  zipButton.onclick = () => downloadZip(result);
}

/** The batch's stored images as one ZIP, packed in the browser from their URLs. */
async function downloadZip(result) {
  zipButton.disabled = true;
  zipButton.textContent = t("zipping");
  try {
    const files = await Promise.all(
      result.images.map(async (image, i) => {
        // this server's own path: PUBLIC_BASE_URL may name another origin (CSP, CORS)
        const response = await fetch(new URL(image.url, location.href).pathname);
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        const data = new Uint8Array(await response.arrayBuffer());
        return { name: fileName(image.id, image.mime_type, i + 1), data };
      }),
    );
    save(zip(files), `flux-remix-${result.id.slice(0, 12)}.zip`);
  } catch (err) {
    toast(t("zip_failed", { message: err.message }));
  } finally {
    zipButton.disabled = false;
    zipButton.textContent = t("download_zip", { n: result.images.length });
  }
}

/** A result card; without `result`, the same card as a placeholder of the same size. */
function card(result, image, items = [], index = 0) {
  const ext = image.mime_type === "image/jpeg" ? "jpg" : "png";
  const frame = result
    ? el("a", {
      class: "frame",
      href: image.url,
      target: "_blank",
      rel: "noopener",
      title: t("view_full"),
      onclick: (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // a new tab
        event.preventDefault();
        openViewer(items, index, event.currentTarget);
      },
    },
      el("img", {
        src: image.url,
        width: image.width,
        height: image.height,
        alt: image.seed === null ? result.prompt : t("image_alt", { prompt: result.prompt, seed: image.seed }),
        loading: "lazy",
        decoding: "async",
      }))
    : el("div", { class: "frame pending" });
  frame.style.aspectRatio = `${image.width} / ${image.height}`;
  const params = result ? { ...result.params, seed: image.seed, model: result.model } : {};
  const actions = el(
    "div",
    { class: result ? "actions" : "actions placeholder", inert: !result },
    el("a", { class: "button small", href: image.url, download: `flux-remix-${image.seed ?? image.id}.${ext}` }, t("download")),
    el("button", {
      type: "button",
      class: "small secondary",
      onclick: async () => toast((await copyText(JSON.stringify(params, null, 2))) ? t("copied") : t("copy_failed")),
    }, t("copy_params")),
    ...(image.seed === null ? [] : [el("button", {
      type: "button",
      class: "small secondary",
      onclick: () => {
        seedInput.value = image.seed;
        nSelect.value = "1";
        toast(t("seed_reused", { seed: image.seed }));
      },
    }, t("reuse_seed"))]),
  );
  const meta = el("p", { class: "meta" },
    t(image.seed === null ? "meta_line_no_seed" : "meta_line",
      { w: image.width, h: image.height, seed: image.seed, neurons: image.neurons }));
  const figure = el("figure", { class: "card" }, frame, el("figcaption", {}, meta, actions));
  figure.style.setProperty("--ratio", String(image.width / image.height)); // fitted (app.css)
  return figure;
}

// --- re-run from history, and resuming a generation after a reload --------------------------

async function prefill(imageId) {
  try {
    const record = await api(`/api/v1/images/${encodeURIComponent(imageId)}`);
    if (models.has(record.model)) modelSelect.value = record.model;
    renderModel();
    promptBox.value = record.prompt;
    const p = record.params ?? {};
    if (p.width && p.height && !spec().size.fixed) {
      widthInput.value = p.width;
      heightInput.value = p.height;
      syncAspect();
    }
    seedInput.value = record.seed ?? "";
    setStyle(p.style ?? "");
    setParamValues(spec(), p);
    promptBox.focus();
  } catch (err) {
    showError(err);
  }
}

async function resume() {
  const saved = sessionStorage.getItem(JOB_KEY);
  if (!saved) return;
  try {
    current = JSON.parse(saved);
    const job = await api(`/api/v1/jobs/${encodeURIComponent(current.id)}`);
    showEmpty(false);
    reserve(current.n ?? 1, current.w ?? 1024, current.h ?? 1024);
    track(job);
  } catch {
    sessionStorage.removeItem(JOB_KEY);
    current = null;
    showEmpty(true);
    showEmptyState();
  }
}

// --- wiring -----------------------------------------------------------------------------------

modelSelect.addEventListener("change", () => {
  clearFieldErrors();
  renderModel();
});
widthInput.addEventListener("input", syncAspect);
heightInput.addEventListener("input", syncAspect);
document.getElementById("seed-random").addEventListener("click", () => {
  seedInput.value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
});
document.getElementById("preview-button").addEventListener("click", showPreview);
document.getElementById("preview-discard").addEventListener("click", discardPreview);
for (const control of [promptBox, translateSelect, enhanceBox]) {
  control?.addEventListener(control === promptBox ? "input" : "change", () => {
    if (!preview.hidden) document.getElementById("preview-stale").hidden = previewMatches();
  });
}
form.addEventListener("submit", (event) => {
  event.preventDefault();
  generate();
});
form.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    generate();
  }
});
const mac = /Mac|iPhone|iPad/.test(navigator.platform);
for (const kbd of document.querySelectorAll("[data-mod-key]")) kbd.textContent = mac ? "⌘" : "Ctrl";

for (const radio of document.querySelectorAll('input[name="style"]')) {
  radio.addEventListener("change", showStyleWords);
}
for (const example of document.querySelectorAll("button.example")) {
  example.addEventListener("click", () => {
    promptBox.value = example.dataset.prompt;
    setStyle(example.dataset.style);
    clearFieldErrors();
    promptBox.focus();
  });
}

renderModel();
showStyleWords();
if (page.rerun) prefill(page.rerun);
else resume();
if (!sessionStorage.getItem(JOB_KEY)) showEmptyState();
