// A full-size viewer over a list of images: ← and → (or the buttons) browse, Escape, the close
// button or a click beside the image closes it, and focus goes back to what opened it.
import { t } from "./common.js";

const dialog = document.getElementById("lightbox");
const img = document.getElementById("lightbox-img");
const count = document.getElementById("lightbox-count");
const caption = document.getElementById("lightbox-caption");
const download = document.getElementById("lightbox-download");
const prev = document.getElementById("lightbox-prev");
const next = document.getElementById("lightbox-next");

let items = []; // [{url, width, height, alt, caption, filename}]
let index = 0;
let opener = null;

function show(i) {
  index = (i + items.length) % items.length;
  const item = items[index];
  img.src = item.url;
  img.width = item.width;
  img.height = item.height;
  img.alt = item.alt;
  img.style.aspectRatio = `${item.width} / ${item.height}`;
  caption.textContent = item.caption ?? "";
  count.textContent = t("viewer_count", { i: index + 1, n: items.length });
  download.href = item.url;
  download.download = item.filename;
  prev.hidden = next.hidden = items.length < 2;
}

/** Open the viewer on `list[start]`; `from` gets the focus back on close. */
export function openViewer(list, start, from = null) {
  if (!list.length) return;
  items = list;
  opener = from;
  show(start);
  if (!dialog.open) dialog.showModal();
}

prev.addEventListener("click", () => show(index - 1));
next.addEventListener("click", () => show(index + 1));
document.getElementById("lightbox-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("keydown", (event) => {
  if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
    event.preventDefault();
    if (items.length > 1) show(index + (event.key === "ArrowLeft" ? -1 : 1));
  }
});
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close(); // beside the image
});
dialog.addEventListener("close", () => {
  img.removeAttribute("src");
  opener?.focus();
});
