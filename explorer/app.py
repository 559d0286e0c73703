"""The explorer's web app: read-only pages, each with a ``.json`` twin, and static files.

Every page is rendered from one context, its page model from ``explorer.views``, dumped
to JSON: the ``.json`` twin answers with exactly that object, and the template sees only
it (plus the page's language and formatting helpers). GET routes only; the views it is
given should sit on a read-only engine (``PublicViews.read_only``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount, Route
from starlette.types import Scope

from chain.typed_data import types_of
from explorer import caching, diagram, history, i18n, urls, verifier
from explorer.assets import VersionedStaticFiles
from explorer.caching import Drawn, ExactPageCache, PageCache
from explorer.models import FlowNode, FundFlow
from explorer.views import PublicViews
from explorer.vocabulary import TEMPLATE_GLOBALS
from ledger.currencies import money
from ledger.entries import MAX_SEQ
from ledger.errors import NotFoundError

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
_SEQ_DIGITS = len(str(MAX_SEQ))
LANGUAGE_COOKIE_AGE_S = 365 * 24 * 3600
Before = Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="older than this index")]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="page number, from 1")]
ReportAt = Annotated[
    int | None, Query(ge=1, le=MAX_SEQ, description="the anchored checkpoint's tree size")
]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # The verifier may ask a JSON-RPC endpoint the visitor names.
        "connect-src 'self' https: http:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def split_twin(raw: str) -> tuple[str, bool]:
    """``dn_x.json`` → (``dn_x``, True); ``dn_x`` → (``dn_x``, False)."""
    if raw.endswith(urls.JSON_SUFFIX):
        return raw[: -len(urls.JSON_SUFFIX)], True
    return raw, False


class Explorer:
    """Renders the pages of one set of public views."""

    def __init__(
        self, views: PublicViews, *, page_cache_s: float = 0, page_cache_exact: bool = True
    ) -> None:
        self.views = views
        self.pages = PageCache(page_cache_s) if page_cache_s > 0 else None
        self.exact = ExactPageCache() if page_cache_exact else None
        self.static = VersionedStaticFiles()
        self.selector = verifier.checkpoint_of_selector()
        # One environment a language, its ``_`` and ``lang`` among the globals: the
        # templates import the macros without the render's context, so Jinja builds the
        # macro module once, not again at every import of every page drawn.
        self.environments = {language: self._environment(language) for language in i18n.LANGUAGES}

    def _environment(self, language: str) -> Environment:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            auto_reload=False,  # templates ship with the code: no stat() per page
            # …and are few: kept in a plain dict, not Jinja's LRU cache, whose lock and
            # queue every page's templates (extends, includes) went through, thread by thread.
            cache_size=-1,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        environment.globals.update(
            TEMPLATE_GLOBALS,
            asset=self.asset,
            selector=self.selector,
            _=i18n.Translator(language),
            lang=language,
        )
        return environment

    def asset(self, name: str) -> str:
        """A static file's URL, with its content hash so that caches may keep it a year."""
        return self.static.url(name)

    def language(self, request: Request) -> str:
        """The request's language: ``?lang=``, the cookie, Accept-Language, zh-CN."""
        return i18n.negotiate(
            query=request.query_params.get("lang"),
            cookie=request.cookies.get(i18n.COOKIE),
            accept_language=request.headers.get("accept-language"),
        )

    def render(
        self, request: Request, template: str, page: BaseModel | None, **drawing: Any
    ) -> Response:
        """The page as HTML, or its twin as JSON (``draw``'s arguments), as a response."""
        return self.respond(request, self.draw(request, template, page, **drawing))

    def draw(
        self,
        request: Request,
        template: str,
        page: BaseModel | None,
        *,
        as_json: bool,
        json_url: str | None,
        status_code: int = 200,
        extra: dict[str, Any] | None = None,
        cache: str = caching.FRESH,
    ) -> Drawn:
        """The page as HTML, or its twin as JSON: both from ``page`` dumped to JSON.

        ``cache`` is the ``Cache-Control`` of a 200 (ADR 0036); any other status may not
        be kept without asking (a donation not found now may be recorded a moment later).
        The bytes and what they were drawn as, without the response: what the page cache
        keeps (``respond`` makes the response of each request).
        """
        data = page.model_dump(mode="json") if page is not None else None
        if status_code != 200:
            cache = caching.NOT_KEPT
        if as_json:
            body = JSONResponse(data).body
            return Drawn(bytes(body), None, cache, status_code)
        language = self.language(request)
        environment = self.environments[language]
        translate = i18n.Translator(language)
        html = environment.get_template(template).render(
            page=data,
            json_url=json_url,
            here=_path_without_language(request),
            flow_figure=self._flow_figure(translate),
            flow_label=lambda node: diagram.node_label(FlowNode.model_validate(node), translate),
            **(extra or {}),
        )
        return Drawn(html.encode("utf-8"), language, cache, status_code)

    def respond(self, request: Request, drawn: Drawn) -> Response:
        """The response of a drawn page to this request (its language cookie, its cache).

        The HTML is chosen by language: by the URL when it says ``?lang=``, otherwise by
        the ``lang`` cookie and Accept-Language, which ``Vary`` then names.
        """
        cache = drawn.cache
        if drawn.language is None:
            response = Response(
                drawn.body,
                status_code=drawn.status_code,
                media_type="application/json",
                headers={"Vary": "Origin", "Cache-Control": cache},
            )
            if caching.shared_cacheable(cache):
                response.headers["ETag"] = drawn.etag
            return response
        response = HTMLResponse(drawn.body, status_code=drawn.status_code)
        response.headers["Content-Language"] = drawn.language
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        chosen = i18n.supported(request.query_params.get("lang"))
        if not chosen:  # chosen by the request's headers: a cache keys on them
            response.headers["Vary"] = "Accept-Language, Cookie"
        if chosen and i18n.supported(request.cookies.get(i18n.COOKIE)) != chosen:
            # Remembered for the pages after; a shared cache must not hand the cookie on.
            response.set_cookie(
                i18n.COOKIE, chosen, max_age=LANGUAGE_COOKIE_AGE_S, samesite="lax", httponly=True
            )
            cache = caching.private_copy(cache)
        response.headers["Cache-Control"] = cache
        if caching.shared_cacheable(cache):  # tagged once, not at every request (ADR 0046)
            response.headers["ETag"] = drawn.etag
        return response

    @staticmethod
    def _flow_figure(translate: i18n.Translator) -> Callable[[dict[str, Any], str, str], Markup]:
        def figure(flow: dict[str, Any], ident: str, title: str) -> Markup:
            model = FundFlow.model_validate(flow)
            return diagram.sankey_svg(
                model, ident=ident, title=title, translate=translate, money=money
            )

        return figure

    def not_found(self, request: Request, detail: str, *, as_json: bool) -> Response:
        """A 404: an HTML page, or a problem document for a twin or an ``/api/`` path."""
        if as_json or request.url.path.startswith(urls.API + "/"):
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "code": "not_found",
                    "detail": detail,
                },
                status_code=404,
                media_type="application/problem+json",
                headers={"Cache-Control": caching.NOT_KEPT},
            )
        return self.render(
            request,
            "404.html",
            None,
            as_json=False,
            json_url=None,
            status_code=404,
            extra={"detail": detail},
        )


def _path_without_language(request: Request) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    path = urls.local(request.url.path)
    if query:
        from urllib.parse import urlencode

        path += "?" + urlencode(query)
    return path


def _no_query() -> dict[str, Any]:
    return {}


def _page_number(page: PageNumber = 1) -> dict[str, Any]:
    return {"page": page}


def _before(before: Before = None) -> dict[str, Any]:
    return {"before": before}


def _search(q: str = "") -> dict[str, Any]:
    return {"q": q}


def _entry_seq(key: str) -> int:
    # The length first: int() of thousands of digits raises (and would take time).
    if not (key.isascii() and key.isdigit() and len(key) <= _SEQ_DIGITS) or int(key) > MAX_SEQ:
        raise NotFoundError("entry", key)
    return int(key)


def _verify_messages(explorer: Explorer, request: Request) -> dict[str, Any]:
    return _verify_context(explorer.language(request))


@functools.cache
def _verify_context(language: str) -> dict[str, Any]:
    """The verifier's messages in ``language``: the same for every page, built once."""
    translate = i18n.Translator(language)
    return {
        "verify_messages": {k: translate(text) for k, text in verifier.MESSAGES.items()},
        "keep_messages": history.keep_messages(translate),
        # ADR 0037: the browser builds the typed data of a disbursement from its entry.
        "signed_types": types_of("disbursement.made"),
    }


def _only_language(request: Request) -> bool:
    """Whether the query string says nothing but ``lang``: an item's page is then one of
    its languages (``here`` drops ``lang`` and keeps anything else, so any other query
    draws another page; those are not kept, lest random ones fill the cache)."""
    return not request.url.query or all(
        name == "lang" for name, _ in request.query_params.multi_items()
    )


@dataclass(frozen=True)
class Page:
    """One page of the explorer and its ``.json`` twin, its parts found by its ``name``.

    The page is the template ``<name>.html`` rendered from ``PublicViews.<name>_page``'s
    model, and its twin's URL is ``urls.<name>(…, json=True)``. A listing is served at
    ``path`` and ``path.json``; the dependency ``query`` reads its query string into the
    keyword arguments of both. An item's path ends in one parameter whose value, read by
    ``parse``, names it; the twin is that value ending in ``.json``. ``extra_context``
    adds to what the template sees. An item page with a ``version``
    (``PublicViews.<name>_version``) is kept in the explorer's exact cache (ADR 0046),
    until ``until`` of its model at the latest.
    """

    name: str
    path: str
    query: Callable[..., dict[str, Any]] = _no_query
    parse: Callable[[str], Any] = str
    extra_context: Callable[[Explorer, Request], dict[str, Any]] | None = None
    version: Callable[[PublicViews, Any], Hashable | None] | None = None
    until: Callable[[Any], datetime | None] | None = None

    def __post_init__(self) -> None:
        # Fail at import, not at the first request, if a view or a URL is missing.
        getattr(PublicViews, f"{self.name}_page")
        getattr(urls, self.name)

    @property
    def key(self) -> str | None:
        """The path parameter that names an item; None for a listing."""
        return self.path.rsplit("{", 1)[1][:-1] if self.path.endswith("}") else None

    def show(
        self, explorer: Explorer, request: Request, *key: Any, as_json: bool, **query: Any
    ) -> Response:
        """The page (or its twin) of the item ``key``, or of the listing's ``query``."""
        pages = explorer.pages
        # The page is the same for every request of the same URL in the same language.
        cache_key = (
            (request.url.path, request.url.query, None if as_json else explorer.language(request))
            if pages is not None
            else None
        )
        drawn = pages.get(cache_key) if pages is not None and cache_key is not None else None
        if drawn is None:
            drawn = self._exactly(explorer, request, key, as_json=as_json)
            if drawn is None:
                model = getattr(explorer.views, f"{self.name}_page")(*key, **query)
                drawn = self._draw(explorer, request, key, query, model, as_json=as_json)
            if pages is not None and cache_key is not None:
                pages.put(cache_key, drawn)
        return explorer.respond(request, drawn)

    def _exactly(
        self, explorer: Explorer, request: Request, key: tuple[Any, ...], *, as_json: bool
    ) -> Drawn | None:
        """The page from the exact cache when its version holds, else drawn and kept there
        (ADR 0046); None: not the exact cache's to serve (off, a query string, no version:
        no such item here), drawn the ordinary way."""
        exact = explorer.exact
        if exact is None or self.version is None or not _only_language(request):
            return None
        # The path names the item and the twin; the query, at most its language.
        cache_key = (request.url.path, None if as_json else explorer.language(request))
        with explorer.views.one_read() as views:  # the version and the page: one snapshot
            version = self.version(views, *key)
            if version is None:
                return None
            drawn = exact.get(cache_key, version)
            if drawn is not None:
                return drawn
            model = getattr(views, f"{self.name}_page")(*key)
        drawn = self._draw(explorer, request, key, {}, model, as_json=as_json)
        exact.put(cache_key, version, drawn, until=self.until(model) if self.until else None)
        return drawn

    def _draw(
        self,
        explorer: Explorer,
        request: Request,
        key: tuple[Any, ...],
        query: dict[str, Any],
        model: BaseModel,
        *,
        as_json: bool,
    ) -> Drawn:
        settled = self.name == "entry" and explorer.views.entry_settled(model)  # type: ignore[arg-type]
        return explorer.draw(
            request,
            f"{self.name}.html",
            model,
            as_json=as_json,
            json_url=getattr(urls, self.name)(*key, json=True, **query),
            extra=self.extra_context(explorer, request) if self.extra_context else None,
            cache=caching.SETTLED if settled else caching.FRESH,
        )


PAGES = (
    Page("home", "/"),
    Page("charities", "/charities", query=_page_number),
    Page("projects", "/projects", query=_page_number),
    Page("charity", "/charities/{charity_id}"),
    Page("project", "/projects/{project_id}"),
    Page(
        "donation",
        "/donations/{donation_id}",
        extra_context=_verify_messages,
        version=PublicViews.donation_version,
        until=PublicViews.page_until,
    ),
    Page("disbursement", "/disbursements/{disbursement_id}"),
    Page("pool", "/pools/{pool_id}"),
    Page("checkpoints", "/checkpoints", query=_before),
    Page("entry", "/entries/{seq}", parse=_entry_seq),
    Page("search", "/search", query=_search),
)
"""Every page, in the order its routes are tried."""


def _listing_endpoint(explorer: Explorer, page: Page, *, as_json: bool) -> Callable[..., Response]:
    def listing(request: Request, **query: Any) -> Response:
        return page.show(explorer, request, as_json=as_json, **page.query(**query))

    # The query parameters are the endpoint's own (as ``page.query`` declares them), so
    # FastAPI reads, validates and lists them as those of a hand-written route.
    listing.__signature__ = _signature(  # type: ignore[attr-defined]
        *inspect.signature(page.query, eval_str=True).parameters.values()
    )
    return listing


def _item_endpoint(explorer: Explorer, page: Page, key_name: str) -> Callable[[Request], Response]:
    def item(request: Request) -> Response:
        key, as_json = split_twin(request.path_params[key_name])
        return page.show(explorer, request, page.parse(key), as_json=as_json)

    return item


class _ItemRoute(Route):
    """A plain Starlette route that names itself in the scope, as FastAPI's routes do: the
    metrics label its requests by its path template, not as ``unmatched``."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match != Match.NONE:
            child["route"] = self
        return match, child


def _signature(*parameters: inspect.Parameter) -> inspect.Signature:
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature(
        [request.replace(annotation=Request)]
        + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]
    )


class ExplorerMount(Mount):
    """The explorer at the site's root, leaving ``/api/…`` to the API entirely.

    A plain ``Mount("/")`` matches every path, so a request the API knows by path but not
    by method (``DELETE /api/v1/donations/…``) would reach the explorer and get its 404
    instead of the API's 405; and an unknown ``/api/…`` path would get an explorer page.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == urls.API or path.startswith(urls.API + "/"):
            return Match.NONE, {}
        return super().matches(scope)


def mount_explorer(
    app: FastAPI, views: PublicViews, *, page_cache_s: float = 0, page_cache_exact: bool = True
) -> None:
    """Mount the explorer on ``views`` at the root of ``app``, after the routes it has.

    ``app`` answers conditional requests for it (``caching.ConditionalGet``).
    """
    explorer = create_explorer(
        views, conditional=False, page_cache_s=page_cache_s, page_cache_exact=page_cache_exact
    )
    app.router.routes.append(ExplorerMount("/", app=explorer, name="explorer"))


def create_explorer(
    views: PublicViews,
    *,
    conditional: bool = True,
    page_cache_s: float = 0,
    page_cache_exact: bool = True,
) -> FastAPI:
    """The explorer as an ASGI app on ``views`` (give it read-only ones).

    With ``conditional`` (an explorer served on its own) it tags what caches may keep
    and answers ``If-None-Match`` itself; mounted in the API, the API does. With
    ``page_cache_s`` it keeps the pages it drew that long (``PageCache``); with
    ``page_cache_exact`` it keeps a donation's page while what it is drawn from is
    unchanged (``ExactPageCache``, ADR 0046).

    Mount it at the site's root, after the API's routes: its pages are ``/``,
    ``/charities``, ``/projects``, ``/charities/{id}``, ``/projects/{id}``,
    ``/donations/{id}``, ``/disbursements/{id}``, ``/checkpoints``, ``/entries/{seq}`` and
    ``/search``, each also as ``.json``.
    """
    explorer = Explorer(views, page_cache_s=page_cache_s, page_cache_exact=page_cache_exact)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.explorer = explorer
    if conditional:
        app.add_middleware(caching.ConditionalGet)
    app.mount(urls.STATIC, explorer.static, name="static")
    # GET (and HEAD) only: nothing here writes, by construction.
    add_page = functools.partial(
        app.add_api_route, methods=["GET", "HEAD"], include_in_schema=False
    )

    @app.exception_handler(NotFoundError)
    async def _missing(request: Request, error: NotFoundError) -> Response:
        as_json = request.url.path.endswith(urls.JSON_SUFFIX)
        return explorer.not_found(request, str(error), as_json=as_json)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            as_json = request.url.path.endswith(urls.JSON_SUFFIX)
            return explorer.not_found(request, "no such page", as_json=as_json)
        return JSONResponse(
            {"title": str(error.detail), "status": error.status_code},
            status_code=error.status_code,
            headers=dict(error.headers or {}),
            media_type="application/problem+json",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        as_json = request.url.path.endswith(urls.JSON_SUFFIX)
        return explorer.not_found(request, "no such page", as_json=as_json)

    for page in PAGES:
        if page.key is not None:  # an item: its twin is the same path, ending in .json
            # A Starlette route: its one path parameter is a string that needs no FastAPI
            # validation, and a page spares FastAPI's handling of a request (ADR 0044).
            app.router.routes.append(
                _ItemRoute(
                    page.path,
                    _item_endpoint(explorer, page, page.key),
                    methods=["GET", "HEAD"],
                    name=page.name,
                )
            )
            continue
        for as_json in (False, True):
            add_page(
                page.path + urls.JSON_SUFFIX if as_json else page.path,
                _listing_endpoint(explorer, page, as_json=as_json),
                name=page.name + ("_json" if as_json else ""),
            )

    # -- disclosure reports (ADR 0039) --------------------------------------------------------
    @app.api_route(
        "/reports/{scope_id}", methods=["GET", "HEAD"], include_in_schema=False, name="reports"
    )
    def reports(request: Request, scope_id: str) -> Response:
        key, as_json = split_twin(scope_id)
        return explorer.render(
            request,
            "reports.html",
            explorer.views.reports.reports_page(key),
            as_json=as_json,
            json_url=urls.reports(key, json=True),
        )

    @app.api_route(
        "/reports/{scope_id}/{period}",
        methods=["GET", "HEAD"],
        include_in_schema=False,
        name="report",
    )
    def report(request: Request, scope_id: str, period: str, at: ReportAt = None) -> Response:
        key, as_json = split_twin(period)
        return explorer.render(
            request,
            "report.html",
            explorer.views.reports.report_page(scope_id, key, at),
            as_json=as_json,
            json_url=urls.report(scope_id, key, json=True, at=at),
        )

    # -- end of disclosure reports -----------------------------------------------------------

    @app.api_route("/my", methods=["GET", "HEAD"], include_in_schema=False, name="my")
    def my(request: Request) -> Response:
        # The same page for everyone: the list is the browser's, never sent here.
        language = explorer.language(request)
        config = history.history_config(language, i18n.Translator(language))
        return explorer.render(
            request, "my.html", None, as_json=False, json_url=None, extra={"history_config": config}
        )

    return app
