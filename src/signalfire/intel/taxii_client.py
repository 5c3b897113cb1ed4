"""Pull STIX objects from a TAXII 2.1 collection into the indicator store.

The HTTP side is ``taxii2-client`` (the OASIS client library): it finds the collection and pages
through its objects. This module adds what a repeated pull needs: it remembers, per (URL,
collection), the ``X-TAXII-Date-Added-Last`` of the last pull and asks the next one only for
objects added after it (``taxii_pull_state``), and it hands the objects to the indicator store's
STIX importer.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from signalfire.errors import IntelError
from signalfire.intel.stix_import import import_stix_objects
from signalfire.intel.taxii_store import PULL_PAGE_SIZE, parse_timestamp, utc_now
from signalfire.store import Store


class _Credentials:
    """requests auth hook: sends the credentials and remembers the TAXII date headers.

    ``taxii2-client`` returns only the parsed JSON of a response; the date headers a repeated
    pull needs are read here, on the response, through the requests hook API.
    """

    def __init__(
        self, token: str | None = None, user: str | None = None, password: str | None = None
    ) -> None:
        self._token = token
        self._basic = (user, password or "") if user else None
        self.date_added_last: str | None = None

    def __call__(self, request: Any) -> Any:
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        elif self._basic is not None:
            pair = f"{self._basic[0]}:{self._basic[1]}".encode()
            request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        request.register_hook("response", self._remember)
        return request

    def _remember(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.ok and "/objects/" in response.url:
            self.date_added_last = response.headers.get("X-TAXII-Date-Added-Last")
        return response


@dataclass(frozen=True)
class PullResult:
    """What a pull fetched and imported."""

    url: str
    collection_id: str
    source: str
    requested_added_after: str | None
    date_added_last: str | None
    pages: int
    objects: int
    imported: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "collection": self.collection_id,
            "source": self.source,
            "added_after": self.requested_added_after,
            "date_added_last": self.date_added_last,
            "pages": self.pages,
            "objects": self.objects,
            "imported": _jsonable(self.imported),
        }


def _jsonable(summary: Any) -> Any:
    if summary is None or isinstance(summary, dict | list | str | int | float | bool):
        return summary
    to_json = getattr(summary, "to_json", None)
    if callable(to_json):
        return to_json()
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        return dataclasses.asdict(summary)
    return str(summary)


def saved_added_after(store: Store, url: str, collection_id: str) -> str | None:
    """The ``X-TAXII-Date-Added-Last`` remembered from the last pull of this collection."""
    row = store.con.execute(
        "SELECT added_after FROM taxii_pull_state WHERE url = ? AND collection_id = ?",
        [url, collection_id],
    ).fetchone()
    return None if row is None else row[0]


def _save_state(store: Store, url: str, collection_id: str, added_last: str, objects: int) -> None:
    con = store.con
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute(
            "SELECT objects_total FROM taxii_pull_state WHERE url = ? AND collection_id = ?",
            [url, collection_id],
        ).fetchone()
        total = (int(row[0] or 0) if row else 0) + objects
        con.execute(
            "DELETE FROM taxii_pull_state WHERE url = ? AND collection_id = ?",
            [url, collection_id],
        )
        con.execute(
            "INSERT INTO taxii_pull_state VALUES (?, ?, ?, ?, ?)",
            [url, collection_id, added_last, utc_now(), total],
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _open_collection(url: str, collection_id: str, auth: _Credentials) -> Collection:
    """The remote collection, given a discovery, API root or collection URL."""
    path = urlparse(url).path.rstrip("/")
    if "/collections/" in path + "/":
        if collection_id not in path:
            raise IntelError(
                f"{url} is the URL of another collection than {collection_id}: give the API "
                "root or discovery URL, or the matching --collection"
            )
        return Collection(url, auth=auth)
    if path.endswith("/taxii2") or path == "/taxii2":
        server = Server(url, auth=auth)
        for root in server.api_roots:
            for collection in root.collections:
                if collection.id == collection_id:
                    return collection
        raise IntelError(
            f"no collection {collection_id} that these credentials may see under any API root "
            f"of {url}: check the id (the server lists them at <api root>/collections/)"
        )
    root = ApiRoot(url, auth=auth)
    return Collection(root.url + "collections/" + collection_id + "/", auth=auth)


def pull(
    store: Store,
    url: str,
    collection_id: str,
    *,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    added_after: str | None = None,
    source: str | None = None,
    page_size: int = PULL_PAGE_SIZE,
    importer: Callable[..., Any] | None = None,
) -> PullResult:
    """Fetch a remote collection's objects added since the last pull and import them.

    Args:
        store: the store to import into (open for writing).
        url: the server's discovery URL (``.../taxii2/``), an API root or the collection URL.
        collection_id: the collection's id.
        token: bearer token; or ``user``/``password`` for HTTP Basic.
        added_after: ask for objects added after this timestamp instead of the remembered one.
        source: the source name recorded on imported indicators (default ``taxii:HOST/ID``).
        page_size: objects per request (the server may cap it).
        importer: the STIX importer (default: the indicator store's ``import_stix_objects``).

    Raises:
        IntelError: the server cannot be reached, refuses the credentials, has no such
            collection, or answers with something that is not TAXII 2.1.
    """
    if added_after is not None:
        try:
            parse_timestamp(added_after)
        except ValueError as exc:
            raise IntelError(f"--added-after: {exc}") from exc
    import_objects = importer or import_stix_objects
    since = added_after if added_after is not None else saved_added_after(store, url, collection_id)
    auth = _Credentials(token=token, user=user, password=password)
    objects: list[dict[str, Any]] = []
    pages = 0
    last: str | None = None
    try:
        collection = _open_collection(url, collection_id, auth)
        filters = {"added_after": since} if since else {}
        for envelope in as_pages(collection.get_objects, per_request=page_size, **filters):
            pages += 1
            objects.extend(o for o in envelope.get("objects", []) if isinstance(o, dict))
            if auth.date_added_last:
                last = auth.date_added_last
    except TAXIIServiceException as exc:
        raise IntelError(f"TAXII pull from {url} failed: {exc}") from exc
    except OSError as exc:  # requests' errors are OSErrors: refused, DNS, TLS, HTTP status
        raise IntelError(_describe_http_error(url, exc)) from exc
    name = source or f"taxii:{urlparse(url).netloc}/{collection_id}"
    summary = import_objects(store, objects, name) if objects else None
    if last is not None:
        _save_state(store, url, collection_id, last, len(objects))
    return PullResult(url, collection_id, name, since, last, pages, len(objects), summary)


def _describe_http_error(url: str, exc: OSError) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status == 401:
        return (
            f"{url} refused the credentials (401): pass a valid --token "
            "(or SIGNALFIRE_TAXII_TOKEN) or --user/--password"
        )
    if status == 403:
        return f"{url}: these credentials may not read the collection (403): ask for read access"
    if status == 404:
        return (
            f"{url}: no such API root or collection, or no access to it (404): check the URL "
            "and --collection"
        )
    if status == 406:
        return f"{url} does not speak TAXII 2.1 (406 for application/taxii+json;version=2.1)"
    if status is not None:
        return f"{url} answered HTTP {status}: {exc}"
    return f"cannot reach {url}: {exc}"
