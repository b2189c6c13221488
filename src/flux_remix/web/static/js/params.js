// A model's parameter controls, built from its schema (GET /api/v1/models): numbers with the
// model's limits, the negative prompt, and image uploads only where the model takes them.
import { ApiError, el, t } from "./common.js";

const MAIN = new Set(["negative_prompt", "image", "mask", "input_images", "strength"]);
const SKIP = new Set(["seed"]); // the seed has its own field beside the image count
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];
const remembered = new Map(); // values the user typed, kept across model switches

function labelOf(param) {
  if (param.name === "input_images") return t("input_images", { n: param.max_items ?? 4 });
  const label = t(param.name);
  return label === param.name ? param.name.replace(/_/g, " ") : label;
}

function limits(param) {
  if (param.min === null || param.max === null) return "";
  const hasDefault = param.default !== null && param.default !== undefined;
  const vars = { min: param.min, max: param.max, default: param.default };
  return t(hasDefault ? "limits_range" : "limits_range_only", vars);
}

function numberField(param) {
  const id = `p-${param.name}`;
  const input = el("input", {
    type: "number",
    id,
    name: param.name,
    min: param.min ?? undefined,
    max: param.max ?? undefined,
    step: param.type === "int" ? 1 : stepFor(param),
    inputmode: param.type === "int" ? "numeric" : "decimal",
    placeholder: param.default ?? "",
    "aria-describedby": `${id}-hint`,
    "data-param": param.name,
  });
  input.addEventListener("input", () => remembered.set(param.name, input.value));
  const previous = remembered.get(param.name);
  if (previous !== undefined && previous !== "" && within(param, Number(previous))) input.value = previous;
  return el("div", { class: "field" },
    el("label", { for: id }, labelOf(param)),
    input,
    el("p", { class: "hint", id: `${id}-hint` }, limits(param)),
    el("p", { class: "field-error", "data-error-for": param.name }),
  );
}

function stepFor(param) {
  const span = (param.max ?? 1) - (param.min ?? 0);
  return span <= 1 ? 0.05 : 0.5;
}

function within(param, value) {
  return (param.min === null || value >= param.min) && (param.max === null || value <= param.max);
}

function textField(param) {
  const id = `p-${param.name}`;
  const area = el("textarea", {
    id,
    name: param.name,
    rows: 2,
    placeholder: param.name === "negative_prompt" ? t("negative_placeholder") : "",
    "data-param": param.name,
  });
  area.value = remembered.get(param.name) ?? "";
  area.addEventListener("input", () => remembered.set(param.name, area.value));
  return el("div", { class: "field" },
    el("label", { for: id }, labelOf(param)),
    area,
    el("p", { class: "field-error", "data-error-for": param.name }),
  );
}

function fileField(param) {
  const id = `p-${param.name}`;
  const multiple = param.type === "images";
  const input = el("input", {
    type: "file",
    id,
    name: param.name,
    accept: IMAGE_TYPES.join(","),
    multiple,
    required: param.required,
    "data-param": param.name,
  });
  const thumbs = el("div", { class: "thumbs" });
  input.addEventListener("change", () => {
    thumbs.replaceChildren();
    for (const file of input.files) {
      const img = el("img", { alt: file.name, class: "thumb-preview" });
      img.src = URL.createObjectURL(file);
      img.onload = () => URL.revokeObjectURL(img.src);
      thumbs.append(img);
    }
  });
  return el("div", { class: "field" },
    el("label", { for: id }, labelOf(param), param.required ? el("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    input,
    thumbs,
    el("p", { class: "field-error", "data-error-for": param.name }),
  );
}

/** Replace the parameter controls with those of `spec`. */
export function buildParams(spec, { main, advanced }) {
  main.replaceChildren();
  advanced.replaceChildren();
  for (const param of spec.params) {
    if (SKIP.has(param.name)) continue;
    const field =
      param.type === "image" || param.type === "images"
        ? fileField(param)
        : param.type === "str"
          ? textField(param)
          : numberField(param);
    (MAIN.has(param.name) ? main : advanced).append(field);
  }
}

/** The values to send for `spec`'s parameters (files as data URLs); throws for a bad file. */
export async function readParams(spec, fileData) {
  const out = {};
  for (const param of spec.params) {
    if (SKIP.has(param.name)) continue;
    const input = document.querySelector(`[data-param="${param.name}"]`);
    if (!input) continue;
    if (param.type === "image" || param.type === "images") {
      const files = [...input.files];
      for (const file of files) {
        if (!IMAGE_TYPES.includes(file.type)) {
          throw new ApiError(0, "invalid_parameter", t("err_file", { name: file.name }), {
            param: param.name,
          });
        }
      }
      if (!files.length) continue;
      const data = await Promise.all(files.map(fileData));
      out[param.name] = param.type === "images" ? data : data[0];
    } else if (param.type === "str") {
      if (input.value.trim()) out[param.name] = input.value.trim();
    } else if (input.value !== "") {
      out[param.name] = param.type === "int" ? parseInt(input.value, 10) : Number(input.value);
    }
  }
  return out;
}

/** Fill the controls from a stored image's parameters (re-run from history). */
export function setParamValues(spec, values) {
  for (const param of spec.params) {
    if (SKIP.has(param.name) || param.type === "image" || param.type === "images") continue;
    const input = document.querySelector(`[data-param="${param.name}"]`);
    const value = values[param.name];
    if (input && value !== undefined && value !== null) {
      input.value = value;
      remembered.set(param.name, String(value));
    }
  }
}
