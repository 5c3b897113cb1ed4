"""TAXII 2.1 server (OASIS TAXII Version 2.1, 2021) on FastAPI, over the Signalfire store.

Endpoints: discovery (``/taxii2/``), API root, status, collections, collection, objects (GET and
POST), object (GET and DELETE), object versions and manifest, with the filters ``added_after``,
``limit``, ``next``, ``match[id]``, ``match[type]``, ``match[version]`` and
``match[spec_version]``, the ``X-TAXII-Date-Added-First``/``-Last`` headers and an error message
resource for every error. See ``docs/taxii.md`` for what is and is not implemented.

Authentication is pluggable: the router takes an ``Authenticator``, a function from the request
to a principal (anything with ``name``, ``can_read(collection_id)`` and
``can_write(collection_id)``) or None for "not authenticated". The default resolves the API
tokens of ``signalfire taxii tokens create`` (``Authorization: Bearer``/``Token``, or HTTP Basic
with the token as password); the web console mounts the same router with its own accounts.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from signalfire.errors import ApiError
from signalfire.intel.taxii_store import (
    DEFAULT_API_ROOT,
    MEDIA_TYPE_TAXII,
    CollectionInfo,
    ObjectQuery,
    Page,
    TaxiiStore,
    VersionFilter,
    decode_cursor,
    format_timestamp,
    parse_timestamp,
    stix_media_type,
)
from signalfire.store import Store

log = logging.getLogger(__name__)

REALM = "signalfire-taxii"


class TaxiiPrincipal(Protocol):
    """Who is calling, and what they may do per collection."""

    @property
    def name(self) -> str: ...

    def can_read(self, collection_id: str) -> bool: ...

    def can_write(self, collection_id: str) -> bool: ...


#: Resolves a request to its principal; None means "no or bad credentials" (401).
Authenticator = Callable[[Request], TaxiiPrincipal | None]


@dataclass(frozen=True)
class TaxiiServerConfig:
    """What the server says about itself, and its limits."""

    title: str = "Signalfire TAXII 2.1"
    description: str = "Threat intelligence shared by a Signalfire instance."
    contact: str | None = None
    default_api_root: str = DEFAULT_API_ROOT
    #: Largest page a client gets, whatever limit it asks for (bounds memory per request).
    max_page_size: int = 1000
    #: Largest POST body accepted; announced in the API root resource.
    max_content_length: int = 32 * 1024 * 1024


class TaxiiRequestError(ApiError):
    """A TAXII request that is answered with an error message resource."""

    def __init__(
        self,
        http_status: int,
        title: str,
        description: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{http_status} {title}: {description}")
        self.http_status = http_status
        self.title = title
        self.description = description
        self.headers = headers or {}


def error_response(
    http_status: int, title: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    """The TAXII error message resource, as every error of the server is reported."""
    body = {"title": title, "description": description, "http_status": str(http_status)}
    return Response(
        json.dumps(body),
        status_code=http_status,
        media_type=MEDIA_TYPE_TAXII,
        headers=headers,
    )


def taxii_response(
    body: dict[str, Any] | bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return Response(content, status_code=status_code, media_type=MEDIA_TYPE_TAXII, headers=headers)


def _unauthorized(description: str) -> TaxiiRequestError:
    return TaxiiRequestError(
        401,
        "Unauthorized",
        description,
        {"WWW-Authenticate": f'Bearer realm="{REALM}", Basic realm="{REALM}"'},
    )


def token_authenticator(store: TaxiiStore) -> Authenticator:
    """The default authenticator: Signalfire TAXII tokens.

    Accepted: ``Authorization: Bearer <token>``, ``Token <token>`` (what ``taxii2-client``'s
    ``TokenAuth`` sends) and HTTP Basic with the token as password (any user name), for clients
    that only speak Basic.
    """

    def authenticate(request: Request) -> TaxiiPrincipal | None:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        secret: str | None = None
        if scheme.lower() in ("bearer", "token") and credentials:
            secret = credentials
        elif scheme.lower() == "basic" and credentials:
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            secret = decoded.partition(":")[2] or None
        if secret is None:
            return None
        return store.principal_for_secret(secret)

    return authenticate


# ---------------------------------------------------------------------------------------------
# Content negotiation


def _media_type(item: str) -> tuple[str, dict[str, str]]:
    kind, *params = item.split(";")
    parsed = {}
    for param in params:
        key, sep, value = param.partition("=")
        if sep:
            parsed[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), parsed


def accepts_taxii(header: str | None) -> bool:
    """Whether an Accept header admits ``application/taxii+json;version=2.1``.

    No Accept header, ``*/*`` and ``application/*`` admit anything (HTTP semantics);
    ``application/taxii+json`` without a version means the latest, which is 2.1.
    """
    if header is None or not header.strip():
        return True
    for item in header.split(","):
        kind, params = _media_type(item)
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind in ("*/*", "application/*"):
            return True
        if kind == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


def is_taxii_content(header: str | None) -> bool:
    """Whether a Content-Type is ``application/taxii+json`` of version 2.1 (or unversioned)."""
    if not header:
        return False
    kind, params = _media_type(header)
    return kind == "application/taxii+json" and params.get("version", "2.1") == "2.1"


# ---------------------------------------------------------------------------------------------
# Routing


class _TaxiiRoute(APIRoute):
    """Answers every error of a TAXII endpoint with an error message resource.

    Done in the route rather than in app-level exception handlers so that the router behaves
    the same when another application includes it.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except TaxiiRequestError as exc:
                return error_response(exc.http_status, exc.title, exc.description, exc.headers)
            except RequestValidationError as exc:
                return error_response(400, "Bad Request", _describe_validation(exc))

        return handle


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def _values(request: Request, name: str) -> list[str]:
    """All values of a query parameter, repeated or comma-separated."""
    return [
        t.strip() for v in request.query_params.getlist(name) for t in v.split(",") if t.strip()
    ]


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise TaxiiRequestError(400, "Bad Request", f"give {name} at most once")
    return values[0] if values else None


def _timestamp_param(request: Request, name: str) -> Any:
    text = _single(request, name)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise TaxiiRequestError(400, "Bad Request", f"{name}: {exc}") from exc


def _page_params(request: Request, max_page_size: int) -> dict[str, Any]:
    limit_text = _single(request, "limit")
    limit = max_page_size
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise TaxiiRequestError(
                400, "Bad Request", f"limit={limit_text!r}: give a positive integer"
            )
        limit = min(limit, max_page_size)
    next_text = _single(request, "next")
    cursor = None
    if next_text:
        try:
            cursor = decode_cursor(next_text)
        except ValueError as exc:
            raise TaxiiRequestError(
                400, "Bad Request", f"{exc}: use the 'next' of the previous page, or none"
            ) from exc
    return {
        "limit": limit,
        "after_cursor": cursor,
        "added_after": _timestamp_param(request, "added_after"),
    }


def _version_filter(request: Request, default: str = "last") -> VersionFilter:
    try:
        return VersionFilter.parse(_values(request, "match[version]"), default=default)
    except ValueError as exc:
        raise TaxiiRequestError(
            400,
            "Bad Request",
            f"match[version]: {exc}; use last, first, all or timestamps, comma-separated",
        ) from exc


def _date_headers(page: Page) -> dict[str, str]:
    first, last = page.first_added, page.last_added
    if first is None or last is None:
        return {}
    return {
        "X-TAXII-Date-Added-First": format_timestamp(first),
        "X-TAXII-Date-Added-Last": format_timestamp(last),
    }


def _envelope(page: Page) -> bytes:
    # The objects are stored as JSON text: splice them in instead of parsing and re-dumping.
    head: dict[str, Any] = {"more": page.more}
    token = page.next_token
    if token is not None:
        head["next"] = token
    if not page.rows:
        return json.dumps(head).encode("utf-8")
    objects = ",".join(row.object_json or "null" for row in page.rows)
    return (json.dumps(head)[:-1] + ',"objects":[' + objects + "]}").encode("utf-8")


def create_taxii_router(
    store: TaxiiStore,
    *,
    authenticate: Authenticator | None = None,
    config: TaxiiServerConfig | None = None,
) -> APIRouter:
    """The TAXII 2.1 endpoints as a router (discovery at ``/taxii2/``, API roots beside it).

    Args:
        store: the TAXII tables of an open Signalfire store.
        authenticate: resolves a request to a principal; default: Signalfire TAXII tokens.
        config: title, default API root and limits.
    """
    cfg = config or TaxiiServerConfig()
    auth = authenticate or token_authenticator(store)
    router = APIRouter(route_class=_TaxiiRoute)

    async def principal(request: Request) -> TaxiiPrincipal:
        # Authenticate first: an anonymous client learns nothing, not even media-type support.
        who = await run_in_threadpool(auth, request)
        if who is None:
            if request.headers.get("authorization"):
                raise _unauthorized(
                    "the credentials are unknown, revoked or expired: ask the server's operator "
                    "for a token (signalfire taxii tokens create)"
                )
            raise _unauthorized(
                "send a token: 'Authorization: Bearer <token>' (or HTTP Basic with the token "
                "as password)"
            )
        if not accepts_taxii(request.headers.get("accept")):
            raise TaxiiRequestError(
                406,
                "Not Acceptable",
                f"this server answers only in {MEDIA_TYPE_TAXII}: send that in the Accept header",
            )
        return who

    async def api_root_of(request: Request, api_root: str) -> str:
        roots = await run_in_threadpool(store.api_roots, cfg.default_api_root)
        if api_root not in roots:
            raise TaxiiRequestError(
                404, "Not Found", f"no API root {api_root!r}: see the discovery resource /taxii2/"
            )
        return api_root

    async def collection_of(
        api_root: str, collection_id: str, who: TaxiiPrincipal
    ) -> CollectionInfo:
        info = await run_in_threadpool(store.collection, collection_id)
        # A collection the client may neither read nor write is reported as missing, so that
        # its existence is not disclosed (TAXII 2.1: 404 "or the client does not have access").
        if (
            info is None
            or info.api_root != api_root
            or not (who.can_read(info.id) or who.can_write(info.id))
        ):
            raise TaxiiRequestError(
                404,
                "Not Found",
                f"no collection {collection_id} under API root {api_root!r} that this client "
                "may access: list them at collections/",
            )
        return info

    def need_read(info: CollectionInfo, who: TaxiiPrincipal) -> None:
        if not who.can_read(info.id):
            raise TaxiiRequestError(
                403,
                "Forbidden",
                f"{who.name} may not read collection {info.id}: ask for a token with "
                "read permission",
            )

    def need_write(info: CollectionInfo, who: TaxiiPrincipal) -> None:
        if not who.can_write(info.id):
            raise TaxiiRequestError(
                403,
                "Forbidden",
                f"{who.name} may not write to collection {info.id}: ask for a token with "
                "write permission",
            )

    def collection_resource(info: CollectionInfo, who: TaxiiPrincipal) -> dict[str, Any]:
        resource: dict[str, Any] = {"id": info.id, "title": info.title}
        if info.description:
            resource["description"] = info.description
        resource["can_read"] = who.can_read(info.id)
        resource["can_write"] = who.can_write(info.id)
        resource["media_types"] = list(info.media_types)
        return resource

    def add(path: str, endpoint: Callable[..., Any], methods: Sequence[str], name: str) -> None:
        # TAXII URLs end with '/'; taxii2-client builds some without (status after a POST), so
        # both spellings are served rather than redirected.
        router.add_api_route(path, endpoint, methods=list(methods), name=name)
        router.add_api_route(
            path.rstrip("/"), endpoint, methods=list(methods), include_in_schema=False
        )

    # -- discovery and API roots -------------------------------------------------------------

    async def discovery(request: Request) -> Response:
        await principal(request)
        roots = await run_in_threadpool(store.api_roots, cfg.default_api_root)
        urls = [str(request.url_for("taxii_api_root", api_root=r)) for r in roots]
        body: dict[str, Any] = {"title": cfg.title, "description": cfg.description}
        if cfg.contact:
            body["contact"] = cfg.contact
        body["default"] = str(request.url_for("taxii_api_root", api_root=cfg.default_api_root))
        body["api_roots"] = urls
        return taxii_response(body)

    async def api_root_information(request: Request, api_root: str) -> Response:
        await principal(request)
        await api_root_of(request, api_root)
        return taxii_response(
            {
                "title": f"{cfg.title}: {api_root}",
                "description": cfg.description,
                "versions": [MEDIA_TYPE_TAXII],
                "max_content_length": cfg.max_content_length,
            }
        )

    async def status(request: Request, api_root: str, status_id: str) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        found = await run_in_threadpool(store.status, api_root, status_id)
        if found is None or not (who.can_write(found[0]) or who.can_read(found[0])):
            raise TaxiiRequestError(
                404, "Not Found", f"no status {status_id} that this client may see"
            )
        return taxii_response(found[1])

    # -- collections -------------------------------------------------------------------------

    async def collections(request: Request, api_root: str) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        infos = await run_in_threadpool(store.collections, api_root)
        visible = [
            collection_resource(c, who) for c in infos if who.can_read(c.id) or who.can_write(c.id)
        ]
        return taxii_response({"collections": visible} if visible else {})

    async def collection(request: Request, api_root: str, collection_id: str) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        return taxii_response(collection_resource(info, who))

    async def manifest(request: Request, api_root: str, collection_id: str) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        need_read(info, who)
        query = ObjectQuery(
            ids=tuple(_values(request, "match[id]")),
            types=tuple(_values(request, "match[type]")),
            versions=_version_filter(request),
            spec_versions=tuple(_values(request, "match[spec_version]")),
            **_page_params(request, cfg.max_page_size),
        )
        page = await run_in_threadpool(store.manifest, info.id, query)
        body: dict[str, Any] = {"more": page.more}
        if page.next_token:
            body["next"] = page.next_token
        if page.rows:
            body["objects"] = [
                {
                    "id": r.object_id,
                    "date_added": format_timestamp(r.date_added),
                    "version": r.version,
                    "media_type": stix_media_type(r.spec_version),
                }
                for r in page.rows
            ]
        return taxii_response(body, headers=_date_headers(page))

    # -- objects -----------------------------------------------------------------------------

    async def get_objects(request: Request, api_root: str, collection_id: str) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        need_read(info, who)
        query = ObjectQuery(
            ids=tuple(_values(request, "match[id]")),
            types=tuple(_values(request, "match[type]")),
            versions=_version_filter(request),
            spec_versions=tuple(_values(request, "match[spec_version]")),
            **_page_params(request, cfg.max_page_size),
        )
        page = await run_in_threadpool(store.objects, info.id, query)
        return taxii_response(_envelope(page), headers=_date_headers(page))

    async def add_objects(request: Request, api_root: str, collection_id: str) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        need_write(info, who)
        if not is_taxii_content(request.headers.get("content-type")):
            raise TaxiiRequestError(
                415,
                "Unsupported Media Type",
                f"post an envelope as Content-Type: {MEDIA_TYPE_TAXII}",
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cfg.max_content_length:
            raise _too_large(cfg.max_content_length)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cfg.max_content_length:
                raise _too_large(cfg.max_content_length)
        try:
            envelope = json.loads(body)
        except ValueError as exc:
            raise TaxiiRequestError(
                400, "Bad Request", f"the body is not JSON ({exc}): post a TAXII envelope"
            ) from exc
        if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
            raise TaxiiRequestError(
                400,
                "Bad Request",
                'the body is not a TAXII envelope: post {"objects": [STIX objects...]}',
            )
        status_resource = await run_in_threadpool(
            lambda: store.add_objects(
                info.id, envelope.get("objects", []), api_root=api_root, principal=who.name
            )
        )
        return taxii_response(status_resource, status_code=202)

    async def get_object(
        request: Request,
        api_root: str,
        collection_id: str,
        object_id: str,
    ) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        need_read(info, who)
        query = ObjectQuery(
            ids=(object_id,),
            versions=_version_filter(request),
            spec_versions=tuple(_values(request, "match[spec_version]")),
            **_page_params(request, cfg.max_page_size),
        )
        page = await run_in_threadpool(store.objects, info.id, query)
        if not page.rows:
            await _need_object(store, info, object_id)
        return taxii_response(_envelope(page), headers=_date_headers(page))

    async def delete_object(
        request: Request,
        api_root: str,
        collection_id: str,
        object_id: str,
    ) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        need_write(info, who)
        await _need_object(store, info, object_id)
        # Without match[version], "delete an object" deletes all of its versions.
        versions = _version_filter(request, default="all")
        spec_versions = tuple(_values(request, "match[spec_version]"))
        await run_in_threadpool(
            lambda: store.delete_object(
                info.id, object_id, versions=versions, spec_versions=spec_versions
            )
        )
        return Response(status_code=200, media_type=MEDIA_TYPE_TAXII)

    async def object_versions(
        request: Request,
        api_root: str,
        collection_id: str,
        object_id: str,
    ) -> Response:
        who = await principal(request)
        await api_root_of(request, api_root)
        info = await collection_of(api_root, collection_id, who)
        need_read(info, who)
        query = ObjectQuery(
            ids=(object_id,),
            versions=VersionFilter(all=True, last=False),
            spec_versions=tuple(_values(request, "match[spec_version]")),
            **_page_params(request, cfg.max_page_size),
        )
        page = await run_in_threadpool(store.manifest, info.id, query)
        if not page.rows:
            await _need_object(store, info, object_id)
        body: dict[str, Any] = {"more": page.more}
        if page.next_token:
            body["next"] = page.next_token
        if page.rows:
            body["versions"] = [r.version for r in page.rows]
        return taxii_response(body, headers=_date_headers(page))

    collection_path = "/{api_root}/collections/{collection_id}/"
    object_path = collection_path + "objects/{object_id}/"
    add("/taxii2/", discovery, ["GET"], "taxii_discovery")
    add("/{api_root}/", api_root_information, ["GET"], "taxii_api_root")
    add("/{api_root}/status/{status_id}/", status, ["GET"], "taxii_status")
    add("/{api_root}/collections/", collections, ["GET"], "taxii_collections")
    add(collection_path, collection, ["GET"], "taxii_collection")
    add(collection_path + "manifest/", manifest, ["GET"], "taxii_manifest")
    add(collection_path + "objects/", get_objects, ["GET"], "taxii_get_objects")
    add(collection_path + "objects/", add_objects, ["POST"], "taxii_add_objects")
    add(object_path, get_object, ["GET"], "taxii_get_object")
    add(object_path, delete_object, ["DELETE"], "taxii_delete_object")
    add(object_path + "versions/", object_versions, ["GET"], "taxii_object_versions")
    return router


def _too_large(limit: int) -> TaxiiRequestError:
    return TaxiiRequestError(
        413,
        "Request Entity Too Large",
        f"the body exceeds max_content_length ({limit} bytes): post the objects in several "
        "smaller envelopes",
    )


async def _need_object(store: TaxiiStore, info: CollectionInfo, object_id: str) -> None:
    if not await run_in_threadpool(store.has_object, info.id, object_id):
        raise TaxiiRequestError(404, "Not Found", f"no object {object_id} in collection {info.id}")


def install_error_handlers(app: FastAPI) -> None:
    """Make the app's own errors (unknown path, wrong method, crash) TAXII error resources."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        description = str(exc.detail)
        if exc.status_code == 404:
            description = "no such TAXII endpoint: start from the discovery resource /taxii2/"
        return error_response(exc.status_code, title, description, dict(exc.headers or {}))

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("TAXII request failed", exc_info=exc)
        return error_response(
            500,
            "Internal Server Error",
            "the server failed to answer (a bug): its log has the traceback",
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)


def create_taxii_app(
    store: Store | Path | str,
    *,
    authenticate: Authenticator | None = None,
    config: TaxiiServerConfig | None = None,
) -> FastAPI:
    """A stand-alone TAXII 2.1 application (what ``signalfire taxii serve`` runs).

    Args:
        store: an open store (the caller closes it) or the path of one (opened for writing now,
            closed when the application shuts down).
        authenticate: see ``create_taxii_router``.
        config: see ``create_taxii_router``.

    Raises:
        StoreError: the store cannot be opened (for example another process holds it).
    """
    owned = not isinstance(store, Store)
    opened = Store.open(store) if not isinstance(store, Store) else store
    taxii = TaxiiStore(opened.con)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                opened.close()

    cfg = config or TaxiiServerConfig()
    app = FastAPI(
        title=cfg.title,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    app.include_router(create_taxii_router(taxii, authenticate=authenticate, config=cfg))
    app.state.taxii_store = taxii
    return app
