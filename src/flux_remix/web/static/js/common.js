// Shared by every page: the page's data and words, the JSON API client, user-facing error
// messages, the language and theme switches, and a small toast.

const dataNode = document.getElementById("page-data");
export const page = dataNode ? JSON.parse(dataNode.textContent) : { messages: {}, lang: "en" };
export const lang = page.lang === "zh" ? "zh" : "en";

/** The page's words, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = page.messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** An error answer of the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, type, message, { param = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.retryAfter = retryAfter;
  }
}

/** Turn a native API error body (or a job's failure event) into an ApiError. */
export function apiError(status, body) {
  const err = (body && (body.error ?? body)) || {};
  return new ApiError(status || err.status || 0, err.type || "error", err.message || "", {
    param: err.param ?? null,
    retryAfter: err.retry_after ?? null,
  });
}

/** Call the JSON API as the signed-in page (cookie + CSRF token); throws ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", t("err_network"));
  }
  let payload = null;
  if (response.status !== 204) {
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
  }
  if (!response.ok) {
    const err = apiError(response.status, payload);
    if (response.status === 401) toSignIn();
    throw err;
  }
  return payload;
}

export function toSignIn() {
  if (!page.signedIn) return;
  const next = location.pathname + location.search;
  location.assign(`/signin?expired=1&next=${encodeURIComponent(next)}`);
}

/** A duration for people: "3 h 12 min", "45 s" (or the Chinese equivalent). */
export function formatWait(seconds) {
  const s = Math.max(1, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const zh = lang === "zh";
  const nb = "\u00a0"; // a number never wraps away from its unit
  if (h) return zh ? `${h}${nb}小时${nb}${m}${nb}分钟` : `${h}${nb}h ${m}${nb}min`;
  if (m) return zh ? `${m}${nb}分钟` : `${m}${nb}min`;
  return zh ? `${s}${nb}秒` : `${s}${nb}s`;
}

/** The message a person should read for an API error. */
export function describeError(err) {
  if (!(err instanceof ApiError)) return t("err_generic", { message: String(err?.message ?? err) });
  const wait = err.retryAfter ?? null;
  switch (err.type) {
    case "network":
      return t("err_network");
    case "authentication_error":
      return t("err_auth");
    case "quota_exhausted":
    case "no_capacity":
      if (err.status === 429 && wait) {
        const at = new Date(Date.now() + wait * 1000);
        const time = at.toLocaleTimeString(lang === "zh" ? "zh-CN" : "en", {
          hour: "2-digit",
          minute: "2-digit",
        });
        return t("err_quota", { time, wait: formatWait(wait) });
      }
      return t("err_busy", { wait: formatWait(wait ?? 30) });
    case "rate_limited":
    case "capacity":
      return t("err_busy", { wait: formatWait(wait ?? 30) });
    case "content_flagged":
      return t("err_flagged");
    case "invalid_parameter":
    case "unknown_model":
    case "invalid_request":
      return t("err_invalid", { message: err.message });
    case "permission_denied":
      return t("err_refused", { message: err.message });
    default:
      return t("err_generic", { message: err.message || err.type });
  }
}

let toastTimer = 0;
export function toast(message) {
  const node = document.getElementById("toast");
  if (!node) return;
  node.textContent = message;
  node.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.remove("show"), 3500);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function setCookie(name, value) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${name}=${value}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
}

function effectiveTheme() {
  const theme = document.documentElement.dataset.theme;
  if (theme === "light" || theme === "dark") return theme;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function initSwitches() {
  const langButton = document.getElementById("lang-switch");
  langButton?.addEventListener("click", () => {
    setCookie("flux_lang", langButton.dataset.lang);
    location.reload();
  });
  const themeButton = document.getElementById("theme-switch");
  if (!themeButton) return;
  const label = () => {
    const dark = effectiveTheme() === "dark";
    themeButton.setAttribute(
      "aria-label",
      dark ? themeButton.dataset.labelLight : themeButton.dataset.labelDark,
    );
    themeButton.title = themeButton.getAttribute("aria-label");
  };
  themeButton.addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    setCookie("flux_theme", next);
    label();
  });
  label();
}

initSwitches();
