"""The web pages: generate (`/`), history (`/history`) and sign-in (`/signin`, `/signout`).

Pages are Jinja2 templates filled on the server; small JavaScript modules (web/static/js) do
the rest through the same JSON API every client uses (`/api/v1/...`), signed in by the session
cookie (web/session.py). Every page answers with a strict Content-Security-Policy: scripts only
from this server, plus the one inline import map, allowed by a per-response nonce.
"""

from __future__ import annotations

import functools
import hmac
import math
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from flux_remix import __version__
from flux_remix.errors import AuthenticationError, AuthThrottledError
from flux_remix.schemas import MAX_IMAGES_PER_REQUEST
from flux_remix.styles import STYLES
from flux_remix.web.assets import assets_of
from flux_remix.web.deps import Caller, RuntimeDep, caller_of, client_address, identify
from flux_remix.web.i18n import EXAMPLES, MESSAGES, Lang, pick_language, pick_theme
from flux_remix.web.model_words import localize
from flux_remix.web.models_view import describe_models
from flux_remix.web.session import (
    LOGIN_COOKIE,
    Session,
    clear_session_cookie,
    cross_site,
    is_https,
    read_session,
    sessions_of,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HISTORY_PAGE_SIZE = 24


@functools.cache
def templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def security_headers(nonce: str, public_base_url: str | None) -> dict[str, str]:
    images = "'self' data: blob:"
    if public_base_url:
        parts = urlsplit(public_base_url)
        images += f" {parts.scheme}://{parts.netloc}"
    policy = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


async def page_caller(
    request: Request, runtime: RuntimeDep
) -> tuple[Caller | None, Session | None]:
    """Who is looking at a page: everyone when keys are off, else the signed-in key or None."""
    await runtime.keys.ring.refresh()
    if not runtime.keys.ring.auth_enabled:
        return Caller(key_id=None, admin=True), read_session(request)
    session = await sessions_of(request).live(read_session(request))
    caller = await caller_of(session.key_id, runtime) if session else None
    return caller, session if caller else None


def local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else `/` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def model_groups(models: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    names = {
        "flux-1": "FLUX.1",
        "flux-2": "FLUX.2",
        "leonardo": "Leonardo",
        "stable-diffusion": "Stable Diffusion",
    }
    groups: dict[str, list[dict[str, Any]]] = {}
    for model in models:
        groups.setdefault(names.get(model["family"], model["family"]), []).append(model)
    return list(groups.items())


def styles_of(lang: Lang) -> list[dict[str, str]]:
    """The style presets as the page offers them: id, name in `lang`, the words they add."""
    return [{"id": s.id, "name": s.name(lang), "words": s.words} for s in STYLES]


def render(
    request: Request,
    runtime: RuntimeDep,
    template: str,
    *,
    page: str,
    title: str,
    session: Session | None,
    signed_in: bool,
    script: str | None = None,
    data: dict[str, Any] | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = pick_language(request)
    messages = MESSAGES[lang]
    assets = assets_of(request)
    nonce = secrets.token_urlsafe(16)
    page_data = {"lang": lang, "messages": messages, "signedIn": signed_in, **(data or {})}
    html = (
        templates()
        .get_template(template)
        .render(
            t=messages,
            lang=lang,
            theme=pick_theme(request),
            title=messages.get(title, title),
            page=page,
            nav=signed_in,
            signed_in=signed_in and runtime.keys.ring.auth_enabled,
            demo=runtime.settings.demo,
            open_server=not runtime.keys.ring.auth_enabled,
            csrf=sessions_of(request).csrf_token(session),
            nonce=nonce,
            asset=assets.url,
            import_map=assets.import_map(),
            page_data=page_data,
            script=script,
            version=__version__,
            **context,
        )
    )
    headers = security_headers(nonce, runtime.settings.public_base_url)
    return HTMLResponse(html, status_code=status, headers=headers)


def to_signin(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)


@router.get("/", response_class=HTMLResponse)
async def generate_page(request: Request, runtime: RuntimeDep) -> Response:
    caller, session = await page_caller(request, runtime)
    if caller is None:
        return to_signin(request)
    lang = pick_language(request)
    models = localize(describe_models(runtime.catalog), lang)
    default_model = runtime.service.resolve_model(None).id
    data = {
        "models": models,
        "defaultModel": default_model,
        "maxImages": MAX_IMAGES_PER_REQUEST,
        "rerun": request.query_params.get("rerun"),
        "styles": styles_of(lang),
    }
    return render(
        request,
        runtime,
        "generate.html",
        page="generate",
        title="generate_title",
        session=session,
        signed_in=True,
        script="js/generate.js",
        data=data,
        model_groups=model_groups(models),
        default_model=default_model,
        max_n=MAX_IMAGES_PER_REQUEST,
        translate_default=runtime.settings.translate_default,
        styles=styles_of(lang),
        examples=EXAMPLES[lang],
    )


@router.get("/history", response_class=HTMLResponse)
async def history_page(request: Request, runtime: RuntimeDep) -> Response:
    caller, session = await page_caller(request, runtime)
    if caller is None:
        return to_signin(request)
    lang = pick_language(request)
    models = localize(describe_models(runtime.catalog), lang)
    data = {
        "pageSize": HISTORY_PAGE_SIZE,
        "models": [{"id": m["id"], "name": m["name"]} for m in models],
        "styles": styles_of(lang),
    }
    return render(
        request,
        runtime,
        "history.html",
        page="history",
        title="history_title",
        session=session,
        signed_in=True,
        script="js/history.js",
        data=data,
        model_groups=model_groups(models),
    )


def signin_form(
    request: Request, runtime: RuntimeDep, next_path: str, message: str | None, status: int
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    response = render(
        request,
        runtime,
        "signin.html",
        page="signin",
        title="signin_title",
        session=None,
        signed_in=False,
        script="js/common.js",
        status=status,
        message=message,
        next=next_path,
        login_token=sessions_of(request).login_token(nonce),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=is_https(request, runtime.settings),
    )
    return response


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, runtime: RuntimeDep) -> Response:
    next_path = local_path(request.query_params.get("next"))
    caller, _ = await page_caller(request, runtime)
    if caller is not None:
        return RedirectResponse(next_path, status_code=303)
    expired = request.query_params.get("expired") == "1"
    message = MESSAGES[pick_language(request)]["signin_expired"] if expired else None
    return signin_form(request, runtime, next_path, message, 200)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    runtime: RuntimeDep,
    key: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the key once and keep a signed session cookie (never the key) in its place."""
    t = MESSAGES[pick_language(request)]
    next_path = local_path(next)
    if not runtime.keys.ring.auth_enabled:
        return RedirectResponse(next_path, status_code=303)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = sessions_of(request).login_token(nonce) if nonce else ""
    if cross_site(request) or not expected or not hmac.compare_digest(csrf_token, expected):
        return signin_form(request, runtime, next_path, t["signin_refused"], 403)
    if not key.strip():
        return signin_form(request, runtime, next_path, t["signin_missing"], 401)
    try:
        caller = await identify(key.strip(), runtime, client_address(request))
    except AuthThrottledError as exc:
        refused = signin_form(request, runtime, next_path, t["signin_throttled"], 429)
        refused.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return refused
    except AuthenticationError:
        return signin_form(request, runtime, next_path, t["signin_invalid"], 401)
    assert caller.key_id is not None  # keys are configured, so every caller has an id
    response = RedirectResponse(next_path, status_code=303)
    session = await sessions_of(request).begin(caller.key_id)
    set_session_cookie(response, request, runtime.settings, session)
    response.delete_cookie(LOGIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(
    request: Request, runtime: RuntimeDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    session = read_session(request)
    expected = sessions_of(request).csrf_token(session)
    if session is not None and (
        cross_site(request) or not hmac.compare_digest(csrf_token, expected)
    ):
        return Response("Cross-site sign-out refused", status_code=403, media_type="text/plain")
    if session is not None:
        await sessions_of(request).end(session)  # the cookie is worthless from now on
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response)
    return response
