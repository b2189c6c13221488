"""The page's words in English and Chinese, and how a request's language is chosen.

The language is the `flux_lang` cookie (set by the page's switch) when present, else the best
match in `Accept-Language`, else English. Templates and scripts share one table: scripts get
the messages of the page's language, with `{name}` placeholders filled in on their side.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
LANG_COOKIE = "flux_lang"
THEME_COOKIE = "flux_theme"

EN: dict[str, str] = {
    "tagline": "Prompts to images through Cloudflare Workers AI",
    "skip": "Skip to content",
    "nav": "Main",
    "nav_generate": "Generate",
    "nav_history": "History",
    "sign_out": "Sign out",
    "switch_lang": "中文",
    "switch_lang_label": "切换到中文",
    "theme_to_dark": "Switch to the dark theme",
    "theme_to_light": "Switch to the light theme",
    "demo_banner": (
        "Demo mode: images come from the built-in Workers AI emulator, not from Cloudflare. "
        "They are drawn procedurally and are not AI output."
    ),
    "open_tag": "OPEN",
    "open_banner": "No API key is set: anyone who can reach this server can generate images "
    "and see every image.",
    "footer_api": "API documentation",
    # sign-in
    "signin_title": "Sign in",
    "signin_lead": (
        "This server needs an API key. Enter it once: the browser keeps a sign-in cookie, "
        "never the key itself."
    ),
    "signin_key": "API key",
    "signin_submit": "Sign in",
    "signin_invalid": "That key is not valid. Check it and try again.",
    "signin_throttled": "Too many wrong keys from here. Wait a minute and try again.",
    "signin_expired": "Your session has ended. Sign in again.",
    "signin_refused": (
        "The sign-in form was sent from another site and was refused. Try again here."
    ),
    "signin_missing": "Enter your API key.",
    # generate page
    "generate_title": "Generate",
    "prompt": "Prompt",
    "prompt_placeholder": "A lighthouse at dusk, oil painting — or write it in Chinese",
    "submit_hint": "to generate",
    "model": "Model",
    "model_cost": "about {n} neurons per image at the default size",
    "model_free": "free while in beta",
    "size": "Size",
    "aspect": "Aspect ratio",
    "width": "Width",
    "height": "Height",
    "size_fixed": "{model} always makes {w}×{h} images.",
    "size_range": "{min}–{max} px per side",
    "limits_range": "{min}–{max}, default {default}",
    "limits_range_only": "{min}–{max}",
    "advanced": "More parameters",
    "steps": "Steps",
    "guidance": "Guidance",
    "negative_prompt": "Negative prompt",
    "negative_placeholder": "What to avoid, e.g. blurry, text, watermark",
    "seed": "Seed",
    "seed_placeholder": "random",
    "seed_random": "New random seed",
    "seed_hint": "Leave empty for a random seed; every result shows its seed.",
    "seed_none": "{model} takes no seed: every image is new and cannot be made again.",
    "meta_line_no_seed": "{w}×{h} · no seed · {neurons} neurons",
    "strength": "Strength",
    "image": "Input image",
    "mask": "Mask (white areas are repainted)",
    "input_images": "Reference images (up to {n}, each under 512×512)",
    "n": "Images",
    "translation": "Translation",
    "translate_auto": "Auto: Chinese → English",
    "translate_always": "Always translate",
    "translate_off": "Never translate",
    "enhance": "Enhance into a detailed English prompt",
    "preview": "Preview the English prompt",
    "previewing": "Preparing the English prompt…",
    "preview_label": "English prompt sent to the model — edit it if you like",
    "preview_by": "Prepared by: {translator}",
    "preview_discard": "Use my prompt as written",
    "preview_stale": "You changed the prompt; preview again to update the English version.",
    "generate": "Generate",
    "generating": "Generating…",
    "results": "Results",
    "stage_queued": "Queued",
    "stage_translating": "Translating",
    "stage_generating": "Generating",
    "stage_stored": "Stored",
    "stages": "Progress",
    "status_idle": "Your images will appear here.",
    "status_queued": "Queued…",
    "status_translating": "Translating the prompt…",
    "status_enhancing": "Enhancing the prompt…",
    "status_generating": "Generating {n} image(s) with {model}…",
    "status_done": "Storing the images…",
    "status_stored": "Done in {s} s.",
    "status_stored_ms": "Done in {ms} ms.",
    "reconnecting": (
        "Connection lost — reconnecting… The generation continues on the server; its "
        "progress resumes when the connection is back."
    ),
    "resumed": "Connection back; progress resumed.",
    "job_lost": "The server no longer knows this generation (it may have restarted). Try again.",
    "your_prompt": "Your prompt",
    "sent_prompt": "Sent to the model",
    "translator_llm": "translated by the LLM",
    "translator_dictionary": "translated by the offline dictionary",
    "translator_none": "not translated",
    "translator_edited": "edited by you",
    "download": "Download",
    "copy_params": "Copy parameters",
    "copied": "Parameters copied.",
    "copy_failed": "Could not copy; select the text instead.",
    "reuse_seed": "Reuse seed",
    "seed_reused": "Seed {seed} is set; the next generation uses it.",
    "image_alt": "{prompt} (seed {seed})",
    "meta_line": "{w}×{h} · seed {seed} · {neurons} neurons",
    "neurons_total": "{neurons} neurons in all",
    "neurons": "Neurons",
    "account": "Account",
    "cache_hit": "from the cache",
    "partial_failure": "{failed} of {total} images failed: {error}",
    # errors a user can meet
    "err_network": "The server could not be reached. Check your connection and try again.",
    "err_auth": "Your session has ended. Sign in again.",
    "err_quota": (
        "Today's free Cloudflare quota is used up on every account. It resets at {time} "
        "(in {wait})."
    ),
    "err_busy": "Every account is busy right now. Try again in {wait}.",
    "err_flagged": "The safety filter flagged this prompt. Reword it and try again.",
    "err_invalid": "{message}",
    "err_generic": "Something went wrong: {message}",
    "err_required": "Write a prompt first.",
    "err_file": "{name} is not a PNG, JPEG or WebP image.",
    "err_refused": "The request was refused: {message}",
    # history page
    "history_title": "History",
    "search": "Search prompts",
    "search_placeholder": "Search prompts…",
    "model_filter": "Model",
    "all_models": "All models",
    "load_more": "Load more",
    "loading": "Loading…",
    "history_empty": "No images yet — generate one!",
    "history_no_match": "No image matches this search.",
    "history_end": "That is everything.",
    "history_unavailable": "History is not available on this server yet.",
    "details": "Details",
    "rerun": "Re-run",
    "delete": "Delete",
    "delete_confirm": "Delete this image for good?",
    "deleted": "Image deleted.",
    "close": "Close",
    "created": "Created",
    "parameters": "Parameters",
    "count": "{n} images",
    # style presets, the empty results panel, the batch's ZIP, the image viewer
    "style": "Style",
    "style_none": "None",
    "style_adds": "Adds to the prompt: {words}",
    "empty_recent": "Your recent images",
    "empty_all": "All history",
    "empty_examples": "Not sure where to start? Pick one:",
    "download_zip": "Download all ({n}) as ZIP",
    "zipping": "Packing the ZIP…",
    "zip_failed": "Could not make the ZIP: {message}",
    "viewer": "Image viewer",
    "view_full": "View full size",
    "previous": "Previous image",
    "next": "Next image",
    "viewer_count": "{i} of {n}",
    "viewer_keys": "← → to browse · Esc to close",
    "demo_banner_short": "Offline emulator images, not AI output",
}

ZH: dict[str, str] = {
    "tagline": "通过 Cloudflare Workers AI 把文字变成图片",
    "skip": "跳到正文",
    "nav": "主菜单",
    "nav_generate": "生成",
    "nav_history": "历史",
    "sign_out": "退出登录",
    "switch_lang": "English",
    "switch_lang_label": "Switch to English",
    "theme_to_dark": "切换到深色主题",
    "theme_to_light": "切换到浅色主题",
    "demo_banner": (
        "演示模式：图片来自内置的 Workers AI 模拟器，而不是 Cloudflare。"
        "这些图片由程序绘制，并非 AI 生成。"
    ),
    "open_tag": "开放",
    "open_banner": "未设置 API 密钥：任何能访问此服务器的人都能生成图片并查看所有图片。",
    "footer_api": "API 文档",
    "signin_title": "登录",
    "signin_lead": (
        "此服务需要 API 密钥。只需输入一次：浏览器保存的是登录 Cookie，绝不保存密钥本身。"
    ),
    "signin_key": "API 密钥",
    "signin_submit": "登录",
    "signin_invalid": "密钥无效，请检查后重试。",
    "signin_throttled": "错误的密钥尝试过多，请稍等一分钟后再试。",
    "signin_expired": "登录已失效，请重新登录。",
    "signin_refused": "登录表单来自其他网站，已被拒绝。请在本页重新登录。",
    "signin_missing": "请输入 API 密钥。",
    "generate_title": "生成图片",
    "prompt": "提示词",
    "prompt_placeholder": "描述你想要的画面，例如：夕阳下的灯塔，油画风格",
    "submit_hint": "开始生成",
    "model": "模型",
    "model_cost": "默认尺寸下每张约 {n} neurons",
    "model_free": "测试期间免费",
    "size": "尺寸",
    "aspect": "宽高比",
    "width": "宽度",
    "height": "高度",
    "size_fixed": "{model} 固定输出 {w}×{h} 的图片。",
    "size_range": "每边 {min}–{max} 像素",
    "limits_range": "{min}–{max}，默认 {default}",
    "limits_range_only": "{min}–{max}",
    "advanced": "更多参数",
    "steps": "步数",
    "guidance": "引导系数",
    "negative_prompt": "反向提示词",
    "negative_placeholder": "不希望出现的内容，例如：模糊、文字、水印",
    "seed": "种子",
    "seed_placeholder": "随机",
    "seed_random": "换一个随机种子",
    "seed_hint": "留空则随机；每个结果都会显示它的种子。",
    "seed_none": "{model} 不接受种子：每张图都是新的，无法重现。",
    "meta_line_no_seed": "{w}×{h} · 无种子 · {neurons} neurons",
    "strength": "重绘强度",
    "image": "输入图片",
    "mask": "蒙版（白色区域会被重绘）",
    "input_images": "参考图（最多 {n} 张，每张小于 512×512）",
    "n": "数量",
    "translation": "翻译",
    "translate_auto": "自动：中文译成英文",
    "translate_always": "总是翻译",
    "translate_off": "不翻译",
    "enhance": "扩写成详细的英文提示词",
    "preview": "预览英文提示词",
    "previewing": "正在准备英文提示词…",
    "preview_label": "发送给模型的英文提示词（可以修改）",
    "preview_by": "处理方式：{translator}",
    "preview_discard": "按原样使用我的提示词",
    "preview_stale": "提示词已修改；请重新预览以更新英文版本。",
    "generate": "生成",
    "generating": "生成中…",
    "results": "结果",
    "stage_queued": "排队",
    "stage_translating": "翻译",
    "stage_generating": "生成",
    "stage_stored": "已保存",
    "stages": "进度",
    "status_idle": "生成的图片会显示在这里。",
    "status_queued": "排队中…",
    "status_translating": "正在翻译提示词…",
    "status_enhancing": "正在扩写提示词…",
    "status_generating": "正在用 {model} 生成 {n} 张图片…",
    "status_done": "正在保存图片…",
    "status_stored": "完成，用时 {s} 秒。",
    "status_stored_ms": "完成，用时 {ms} 毫秒。",
    "reconnecting": "连接中断，正在重连…服务器上的生成仍在继续，连接恢复后进度会自动接上。",
    "resumed": "连接已恢复，进度继续。",
    "job_lost": "服务器上已找不到这次生成（可能已重启）。请重试。",
    "your_prompt": "你的提示词",
    "sent_prompt": "发送给模型的提示词",
    "translator_llm": "由大模型翻译",
    "translator_dictionary": "由离线词典翻译",
    "translator_none": "未翻译",
    "translator_edited": "由你修改",
    "download": "下载",
    "copy_params": "复制参数",
    "copied": "参数已复制。",
    "copy_failed": "无法复制，请手动选择文本。",
    "reuse_seed": "复用种子",
    "seed_reused": "已填入种子 {seed}，下次生成会使用它。",
    "image_alt": "{prompt}（种子 {seed}）",
    "meta_line": "{w}×{h} · 种子 {seed} · {neurons} neurons",
    "neurons_total": "共 {neurons} neurons",
    "neurons": "Neurons",
    "account": "账户",
    "cache_hit": "来自缓存",
    "partial_failure": "{total} 张中有 {failed} 张失败：{error}",
    "err_network": "无法连接服务器。请检查网络后重试。",
    "err_auth": "登录已失效，请重新登录。",
    "err_quota": "所有账户今天的 Cloudflare 免费额度都已用完，将在 {time}（{wait}后）重置。",
    "err_busy": "所有账户暂时都在忙，请在 {wait}后重试。",
    "err_flagged": "安全过滤器拦截了这个提示词。请换个说法再试。",
    "err_invalid": "{message}",
    "err_generic": "出错了：{message}",
    "err_required": "请先写提示词。",
    "err_file": "{name} 不是 PNG、JPEG 或 WebP 图片。",
    "err_refused": "请求被拒绝：{message}",
    "history_title": "历史记录",
    "search": "搜索提示词",
    "search_placeholder": "搜索提示词…",
    "model_filter": "模型",
    "all_models": "全部模型",
    "load_more": "加载更多",
    "loading": "加载中…",
    "history_empty": "还没有图片——去生成一张吧！",
    "history_no_match": "没有符合搜索条件的图片。",
    "history_end": "已经全部显示。",
    "history_unavailable": "此服务器暂不提供历史记录。",
    "details": "详情",
    "rerun": "重新生成",
    "delete": "删除",
    "delete_confirm": "确定永久删除这张图片吗？",
    "deleted": "图片已删除。",
    "close": "关闭",
    "created": "创建时间",
    "parameters": "参数",
    "count": "{n} 张图片",
    "style": "风格",
    "style_none": "无",
    "style_adds": "会在提示词后加上：{words}",
    "empty_recent": "最近的图片",
    "empty_all": "全部历史",
    "empty_examples": "不知道从哪里开始？选一个试试：",
    "download_zip": "打包下载全部 {n} 张（ZIP）",
    "zipping": "正在打包 ZIP…",
    "zip_failed": "无法打包 ZIP：{message}",
    "viewer": "图片查看器",
    "view_full": "查看大图",
    "previous": "上一张",
    "next": "下一张",
    "viewer_count": "第 {i} / {n} 张",
    "viewer_keys": "← → 切换 · Esc 关闭",
    "demo_banner_short": "离线模拟器绘制的图片，并非 AI 生成",
}

MESSAGES: dict[Lang, dict[str, str]] = {"en": EN, "zh": ZH}

# Example prompts for a results panel with no images yet: (prompt, style preset or None)
EXAMPLES: dict[Lang, tuple[tuple[str, str | None], ...]] = {
    "en": (
        ("A lighthouse on a cliff at sunset, waves crashing below", "oil-painting"),
        ("A cute cat basking in the sun on a windowsill", "photo"),
        ("A cozy reading nook with plants and a warm lamp", "watercolor"),
        ("A red fox in fresh snow, morning mist", "cinematic"),
    ),
    "zh": (
        ("夕阳下悬崖上的灯塔，海浪拍打着礁石", "oil-painting"),
        ("一只可爱的猫咪在窗台上晒太阳", "photo"),
        ("摆满绿植、亮着暖光台灯的阅读角", "watercolor"),
        ("晨雾中雪地里的一只红狐狸", "cinematic"),
    ),
}


def pick_language(request: Request) -> Lang:
    """The cookie's choice, else the best `Accept-Language` match, else English."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGS:
        return "zh" if chosen == "zh" else "en"
    return from_accept_language(request.headers.get("accept-language", ""))


def from_accept_language(header: str) -> Lang:
    best: tuple[float, Lang] = (0.0, "en")
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS or quality <= 0:
            continue
        score = quality - position * 1e-6  # earlier entries win ties
        if score > best[0]:
            best = (score, "zh" if primary == "zh" else "en")
    return best[1]


def pick_theme(request: Request) -> str:
    """`light` or `dark` when the visitor chose one, else `auto` (follow the system)."""
    theme = request.cookies.get(THEME_COOKIE, "")
    return theme if theme in ("light", "dark") else "auto"
