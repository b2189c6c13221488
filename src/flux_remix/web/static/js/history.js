// The history page: the signed-in key's images, newest first, loaded page by page as the
// visitor scrolls (or presses "Load more"), searchable by prompt and filterable by model, with a
// detail view (every parameter) offering download, copy, re-run and delete.
import { api, copyText, describeError, el, lang, page, t, toast } from "./common.js";

const gallery = document.getElementById("gallery");
const statusLine = document.getElementById("history-status");
const moreButton = document.getElementById("load-more");
const sentinel = document.getElementById("sentinel");
const search = document.getElementById("q");
const modelFilter = document.getElementById("model-filter");
const dialog = document.getElementById("detail");

const state = { cursor: null, done: false, loading: false, generation: 0, shown: 0 };
const records = new Map();
const modelNames = new Map(page.models.map((m) => [m.id, m.name])); // in the page's language
const styleNames = new Map((page.styles ?? []).map((s) => [s.id, s.name]));
let opener = null; // the card button that opened the detail view, focused again on close

function query() {
  const params = new URLSearchParams({ limit: String(page.pageSize ?? 24) });
  if (search.value.trim()) params.set("q", search.value.trim());
  if (modelFilter.value) params.set("model", modelFilter.value);
  if (state.cursor) params.set("cursor", state.cursor);
  return params;
}

function remember() {
  const params = new URLSearchParams();
  if (search.value.trim()) params.set("q", search.value.trim());
  if (modelFilter.value) params.set("model", modelFilter.value);
  const url = params.size ? `?${params}` : location.pathname;
  history.replaceState(null, "", url);
}

async function loadMore() {
  if (state.loading || state.done) return;
  state.loading = true;
  const generation = state.generation;
  moreButton.disabled = true;
  statusLine.textContent = t("loading");
  try {
    const data = await api(`/api/v1/images?${query()}`);
    if (generation !== state.generation) return; // the filters changed meanwhile
    for (const record of data.images) {
      records.set(record.id, record);
      gallery.append(card(record));
    }
    state.shown += data.images.length;
    state.cursor = data.next_cursor;
    state.done = !data.next_cursor;
    statusLine.textContent = emptyText() ?? (state.done ? t("history_end") : t("count", { n: state.shown }));
  } catch (err) {
    statusLine.textContent = err.status === 404 ? t("history_unavailable") : describeError(err);
  } finally {
    if (generation === state.generation) {
      state.loading = false;
      moreButton.disabled = false;
      moreButton.hidden = state.done;
      if (!state.done && isVisible(sentinel)) loadMore(); // the page is taller than the rows
    }
  }
}

function emptyText() {
  if (state.shown) return null;
  return search.value.trim() || modelFilter.value ? t("history_no_match") : t("history_empty");
}

function isVisible(node) {
  const box = node.getBoundingClientRect();
  return box.top < innerHeight + 400;
}

function restart() {
  state.generation += 1;
  state.cursor = null;
  state.done = false;
  state.loading = false;
  state.shown = 0;
  records.clear();
  gallery.replaceChildren();
  remember();
  loadMore();
}

function formatDate(iso) {
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en", {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

function card(record) {
  const img = el("img", {
    src: record.url,
    width: record.width,
    height: record.height,
    alt: record.prompt,
    loading: "lazy",
    decoding: "async",
  });
  const frame = el("span", { class: "frame" }, img); // a square tile (CSS): nothing shifts
  const button = el("button", {
    type: "button",
    class: "thumb",
    "aria-label": `${t("details")}: ${record.prompt}`,
    "data-id": record.id,
    onclick: () => openDetail(record.id, button),
  }, frame);
  return el("li", { class: "card", "data-id": record.id },
    button,
    el("p", { class: "caption", title: record.prompt }, record.prompt),
    el("p", { class: "meta" },
      el("span", {}, modelName(record)), el("time", { datetime: record.created }, formatDate(record.created))),
  );
}

function modelName(record) {
  return modelNames.get(record.model) ?? record.model_name;
}

const SHOWN = ["model_name", "width", "height", "seed", "steps", "guidance", "negative_prompt",
  "strength", "neurons", "account"];

function openDetail(id, from) {
  const record = records.get(id);
  if (!record) return;
  opener = from;
  dialog.dataset.id = id;
  const img = document.getElementById("detail-img");
  img.src = record.url;
  img.width = record.width;
  img.height = record.height;
  img.alt = record.prompt;
  document.getElementById("detail-prompt").textContent = record.prompt;
  const sameText = record.final_prompt === record.prompt;
  document.getElementById("detail-final-wrap").hidden = sameText;
  document.getElementById("detail-final").textContent = record.final_prompt;
  document.getElementById("detail-translator").textContent = t(`translator_${record.translator}`);
  const params = document.getElementById("detail-params");
  params.replaceChildren();
  const values = { ...record.params, ...record };
  const rows = [[t("created"), formatDate(record.created)], [t("model"), modelName(record)]];
  if (values.style) rows.push([t("style"), styleNames.get(values.style) ?? values.style]);
  for (const name of SHOWN.slice(1)) {
    const value = values[name];
    if (value === undefined || value === null || value === "") continue;
    const label = t(name) === name ? name.replace(/_/g, " ") : t(name);
    rows.push([label, String(value)]);
  }
  for (const [label, value] of rows) params.append(el("dt", {}, label), el("dd", {}, value));
  const download = document.getElementById("detail-download");
  download.href = record.url;
  download.download = `flux-remix-${record.seed ?? record.id}.${record.mime_type === "image/jpeg" ? "jpg" : "png"}`;
  document.getElementById("detail-rerun").href = `/?rerun=${encodeURIComponent(record.id)}`;
  if (!dialog.open) dialog.showModal();
}

/** ← and → in the detail view: the previous or next image of the gallery. */
function step(event) {
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  if (event.target.closest?.("input, textarea, select")) return;
  const item = gallery.querySelector(`li[data-id="${CSS.escape(dialog.dataset.id ?? "")}"]`);
  const next = event.key === "ArrowLeft" ? item?.previousElementSibling : item?.nextElementSibling;
  if (!next) return;
  event.preventDefault();
  openDetail(next.dataset.id, next.querySelector("button.thumb"));
}

async function deleteCurrent() {
  const id = dialog.dataset.id;
  if (!id || !confirm(t("delete_confirm"))) return;
  try {
    await api(`/api/v1/images/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    if (err.status !== 404) return toast(describeError(err));
  }
  records.delete(id);
  const item = gallery.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  const next = item?.nextElementSibling ?? item?.previousElementSibling;
  item?.remove();
  state.shown = Math.max(0, state.shown - 1);
  opener = next?.querySelector("button") ?? search;
  dialog.close();
  toast(t("deleted"));
  statusLine.textContent = emptyText() ?? statusLine.textContent;
}

let typing = 0;
search.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(restart, 300);
});
document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(typing);
  restart();
});
modelFilter.addEventListener("change", restart);
moreButton.addEventListener("click", loadMore);
document.getElementById("detail-close").addEventListener("click", () => dialog.close());
document.getElementById("detail-delete").addEventListener("click", deleteCurrent);
document.getElementById("detail-copy").addEventListener("click", async () => {
  const record = records.get(dialog.dataset.id);
  if (!record) return;
  const params = { model: record.model, prompt: record.final_prompt, ...record.params, seed: record.seed };
  toast((await copyText(JSON.stringify(params, null, 2))) ? t("copied") : t("copy_failed"));
});
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close(); // a click on the backdrop
});
dialog.addEventListener("close", () => opener?.focus());
dialog.addEventListener("keydown", step);

new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadMore();
}, { rootMargin: "400px" }).observe(sentinel);

const initial = new URLSearchParams(location.search);
search.value = initial.get("q") ?? "";
modelFilter.value = initial.get("model") ?? "";
loadMore();
