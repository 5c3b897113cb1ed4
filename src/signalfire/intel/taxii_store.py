"""Storage of the TAXII 2.1 server: collections, object versions, status resources and tokens.

Everything lives in the Signalfire store (tables ``taxii_*`` declared in
``signalfire.model.schema``). One process holds the DuckDB file; inside it, writes are serialized
by a lock and every operation runs on its own cursor, so the web server's worker threads can read
while another thread writes.

Each object version gets a ``date_added`` that is unique and strictly increasing across the
whole store (microseconds). Readers page with ``date_added > cursor``; because writes commit in
``date_added`` order, every snapshot a reader sees is a prefix of that order, so paging by
``added_after`` or ``next`` neither skips nor repeats an object version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from signalfire.errors import IntelError

MEDIA_TYPE_TAXII = "application/taxii+json;version=2.1"
MEDIA_TYPE_STIX = "application/stix+json;version=2.1"
DEFAULT_API_ROOT = "signalfire"
#: Objects `signalfire taxii pull` asks for per request; servers may return fewer.
PULL_PAGE_SIZE = 500
#: Collection id in taxii_permissions that stands for every collection.
ALL_COLLECTIONS = "*"

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|\+00:?00)$"
)
_STIX_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_API_ROOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: URL segments of the server that cannot be API root names.
RESERVED_ROOT_NAMES = frozenset({"taxii2", "taxii", "docs", "openapi.json"})
_ONE_MICROSECOND = timedelta(microseconds=1)


def parse_timestamp(text: str) -> datetime:
    """A STIX/TAXII timestamp (``2016-04-06T20:03:48.123Z``) as a naive UTC datetime.

    Digits beyond microseconds are dropped: the store keeps microseconds.

    Raises:
        ValueError: the text is not an RFC 3339 UTC timestamp.
    """
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a UTC timestamp like 2016-04-06T20:03:48.123Z")
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro
    )  # naive UTC, as DuckDB TIMESTAMP values are


def format_timestamp(value: datetime) -> str:
    """A naive UTC datetime as a TAXII timestamp with microseconds (``...T03:04:05.123456Z``)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> datetime:
    """Now, as a naive UTC datetime with microseconds."""
    return datetime.now(UTC).replace(tzinfo=None)


def stix_media_type(spec_version: str) -> str:
    return f"application/stix+json;version={spec_version}"


# ---------------------------------------------------------------------------------------------
# Queries


@dataclass(frozen=True)
class VersionFilter:
    """``match[version]``: any of ``last``, ``first``, ``all`` and exact timestamps (OR-ed)."""

    all: bool = False
    first: bool = False
    last: bool = True
    timestamps: tuple[datetime, ...] = ()

    @classmethod
    def parse(cls, values: Sequence[str], *, default: str = "last") -> VersionFilter:
        """Parse the comma-separated values of ``match[version]`` (``default`` when none).

        Raises:
            ValueError: a value is neither a keyword nor a timestamp.
        """
        tokens = [t.strip() for v in values for t in v.split(",") if t.strip()] or [default]
        stamps = tuple(parse_timestamp(t) for t in tokens if t not in ("all", "first", "last"))
        return cls(
            all="all" in tokens,
            first="first" in tokens,
            last="last" in tokens,
            timestamps=stamps,
        )


@dataclass(frozen=True)
class ObjectQuery:
    """The filters of the objects, manifest, object and versions endpoints."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionFilter = field(default_factory=VersionFilter)
    #: Empty: for each object only its latest spec_version (TAXII 2.1, match[spec_version]).
    spec_versions: tuple[str, ...] = ()
    added_after: datetime | None = None
    #: The ``next`` cursor of a previous page: the date_added of its last entry.
    after_cursor: datetime | None = None
    limit: int = 1000


@dataclass(frozen=True)
class StoredVersion:
    """One object version as the endpoints return it."""

    object_id: str
    spec_version: str
    version: str
    date_added: datetime
    object_json: str | None


@dataclass(frozen=True)
class Page:
    """One page of object versions in ``date_added`` order, and whether more follow."""

    rows: list[StoredVersion]
    more: bool

    @property
    def first_added(self) -> datetime | None:
        return self.rows[0].date_added if self.rows else None

    @property
    def last_added(self) -> datetime | None:
        return self.rows[-1].date_added if self.rows else None

    @property
    def next_token(self) -> str | None:
        """Opaque ``next`` value for the page after this one (None when none follows)."""
        last = self.last_added
        if not self.more or last is None:
            return None
        return encode_cursor(last)


def encode_cursor(date_added: datetime) -> str:
    """The ``next`` token: the date_added of the last entry returned, made opaque."""
    return base64.urlsafe_b64encode(f"v1:{format_timestamp(date_added)}".encode()).decode()


def decode_cursor(token: str) -> datetime:
    """Inverse of ``encode_cursor``.

    Raises:
        ValueError: the token was not made by this server.
    """
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValueError(f"next={token!r} is not a token this server returned") from exc
    if not text.startswith("v1:"):
        raise ValueError(f"next={token!r} is not a token this server returned")
    return parse_timestamp(text[3:])


# Version string of a stored row: the object's own modified/created text when it has one, so
# that clients comparing versions as strings see exactly what the producer wrote.
_VERSION_TEXT = (
    "coalesce(json_extract_string(object_json, '$.modified'), "
    "json_extract_string(object_json, '$.created'), "
    "strftime(date_added, '%Y-%m-%dT%H:%M:%S.%fZ'))"
)


def _selection(collection_id: str, query: ObjectQuery) -> tuple[str, list[Any]]:
    """SQL selecting the object versions that match every filter but the paging ones."""
    where = ["collection_id = ?"]
    params: list[Any] = [collection_id]
    if query.ids:
        where.append("list_contains(?::VARCHAR[], object_id)")
        params.append(list(query.ids))
    if query.types:
        where.append("list_contains(?::VARCHAR[], object_type)")
        params.append(list(query.types))
    if query.spec_versions:
        where.append("list_contains(?::VARCHAR[], spec_version)")
        params.append(list(query.spec_versions))
    sql = f"SELECT * FROM taxii_objects WHERE {' AND '.join(where)}"
    if not query.spec_versions:
        sql += " QUALIFY spec_version = max(spec_version) OVER (PARTITION BY object_id)"
    versions = query.versions
    if not versions.all:
        windowed = []
        if versions.last:
            windowed.append("version = max(version) OVER (PARTITION BY object_id)")
        if versions.first:
            windowed.append("version = min(version) OVER (PARTITION BY object_id)")
        conditions = list(windowed)
        if versions.timestamps:
            conditions.append("list_contains(?::TIMESTAMP[], version)")
            params.append(list(versions.timestamps))
        # QUALIFY needs a window function; exact timestamps alone are a plain WHERE.
        keyword = "QUALIFY" if windowed else "WHERE"
        sql = f"SELECT * FROM ({sql}) AS matched {keyword} {' OR '.join(conditions) or 'false'}"
    return sql, params


# ---------------------------------------------------------------------------------------------
# Collections, tokens, status


@dataclass(frozen=True)
class CollectionInfo:
    """A collection as stored."""

    id: str
    api_root: str
    title: str
    description: str | None
    media_types: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never the secret)."""

    token_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    read: tuple[str, ...]
    write: tuple[str, ...]

    @property
    def active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > utc_now()


@dataclass(frozen=True)
class TokenPrincipal:
    """A client authenticated by a TAXII token, with its per-collection permissions."""

    name: str
    token_id: str
    readable: frozenset[str]
    writable: frozenset[str]

    def can_read(self, collection_id: str) -> bool:
        return ALL_COLLECTIONS in self.readable or collection_id in self.readable

    def can_write(self, collection_id: str) -> bool:
        return ALL_COLLECTIONS in self.writable or collection_id in self.writable


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass
class _Validated:
    object_id: str
    object_type: str
    spec_version: str
    version: datetime | None
    version_from: str
    version_text: str | None
    content_sha256: str
    object_json: str

    def key(self) -> tuple[str, str, str]:
        # Unversioned objects (STIX cyber-observables) are the same object when their content
        # is; versioned ones when id, version and spec_version are.
        if self.version is None:
            return (self.object_id, self.spec_version, "sha256:" + self.content_sha256)
        return (self.object_id, self.spec_version, format_timestamp(self.version))


def _validate(obj: object) -> _Validated:
    """Check one posted object; raise ValueError with a message for the status resource."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    type_ = obj.get("type")
    id_ = obj.get("id")
    if not isinstance(type_, str) or not _STIX_TYPE.match(type_):
        raise ValueError("missing or invalid 'type' (lowercase letters, digits and hyphens)")
    if not isinstance(id_, str) or "--" not in id_:
        raise ValueError("missing or invalid 'id' (expected TYPE--UUID)")
    prefix, _, suffix = id_.partition("--")
    if prefix != type_:
        raise ValueError(f"'id' {id_!r} does not start with its type {type_!r}")
    try:
        uuid.UUID(suffix)
    except ValueError as exc:
        raise ValueError(f"'id' {id_!r} does not end with a UUID") from exc
    spec_version = obj.get("spec_version", "2.1")
    if not isinstance(spec_version, str) or not re.fullmatch(r"\d+\.\d+", spec_version):
        raise ValueError(f"invalid 'spec_version' {spec_version!r}")
    version: datetime | None = None
    version_from = "date_added"
    version_text: str | None = None
    for prop in ("modified", "created"):
        if prop in obj:
            value = obj[prop]
            if not isinstance(value, str):
                raise ValueError(f"'{prop}' is not a timestamp string")
            version = parse_timestamp(value)  # ValueError says what is wrong
            version_from, version_text = prop, value
            break
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return _Validated(
        object_id=id_,
        object_type=type_,
        spec_version=spec_version,
        version=version,
        version_from=version_from,
        version_text=version_text,
        content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        object_json=text,
    )


def _detail(obj: object, message: str | None = None) -> dict[str, str]:
    """A TAXII status-details entry for a posted object (as much of it as can be told)."""
    detail: dict[str, str] = {"id": ""}
    if isinstance(obj, dict):
        if isinstance(obj.get("id"), str):
            detail["id"] = obj["id"]
        for prop in ("modified", "created"):
            if isinstance(obj.get(prop), str):
                detail["version"] = obj[prop]
                break
    if message:
        detail["message"] = message
    return detail


class TaxiiStore:
    """The TAXII tables of one open store (``store.con``), safe to share between threads."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._write_lock = threading.Lock()

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def _writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock:
            cursor = self._con.cursor()
            try:
                cursor.execute("BEGIN TRANSACTION")
                try:
                    yield cursor
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    # -- collections -------------------------------------------------------------------------

    def create_collection(
        self,
        title: str,
        *,
        description: str | None = None,
        collection_id: str | None = None,
        api_root: str = DEFAULT_API_ROOT,
        media_types: Sequence[str] = (MEDIA_TYPE_STIX,),
    ) -> CollectionInfo:
        """Add a collection.

        Raises:
            IntelError: the id is not a UUID or already used, or the API root name is invalid.
        """
        if not title.strip():
            raise IntelError("a collection needs a title: give a non-empty TITLE")
        check_api_root_name(api_root)
        if collection_id is None:
            collection_id = str(uuid.uuid4())
        else:
            try:
                collection_id = str(uuid.UUID(collection_id))
            except ValueError as exc:
                raise IntelError(
                    f"collection id {collection_id!r} is not a UUID (TAXII 2.1 requires one): "
                    "omit --id to get a random one"
                ) from exc
        created = utc_now()
        with self._writing() as cur:
            if cur.execute(
                "SELECT 1 FROM taxii_collections WHERE collection_id = ?", [collection_id]
            ).fetchone():
                raise IntelError(f"collection {collection_id} already exists: choose another --id")
            cur.execute(
                "INSERT INTO taxii_collections VALUES (?, ?, ?, ?, ?, ?)",
                [collection_id, api_root, title, description, list(media_types), created],
            )
        return CollectionInfo(
            collection_id, api_root, title, description, tuple(media_types), created
        )

    def collections(
        self, api_root: str | None = None, *, collection_id: str | None = None
    ) -> list[CollectionInfo]:
        """Collections, of one API root or all (or the one with this id), oldest first."""
        sql = (
            "SELECT collection_id, api_root, title, description, media_types, created_at "
            "FROM taxii_collections WHERE true"
        )
        params: list[Any] = []
        if api_root is not None:
            sql += " AND api_root = ?"
            params.append(api_root)
        if collection_id is not None:
            sql += " AND collection_id = ?"
            params.append(collection_id)
        with self._reading() as cur:
            rows = cur.execute(sql + " ORDER BY created_at, collection_id", params).fetchall()
        return [CollectionInfo(r[0], r[1], r[2], r[3], tuple(r[4] or ()), r[5]) for r in rows]

    def collection(self, collection_id: str) -> CollectionInfo | None:
        """The collection with this id, or None."""
        found = self.collections(collection_id=collection_id)
        return found[0] if found else None

    def api_roots(self, default: str = DEFAULT_API_ROOT) -> list[str]:
        """Names of the API roots: the default one and every one a collection lives under."""
        with self._reading() as cur:
            rows = cur.execute("SELECT DISTINCT api_root FROM taxii_collections").fetchall()
        return [default, *sorted({r[0] for r in rows} - {default})]

    # -- objects -----------------------------------------------------------------------------

    def add_objects(
        self,
        collection_id: str,
        objects: Sequence[object],
        *,
        api_root: str = DEFAULT_API_ROOT,
        principal: str | None = None,
    ) -> dict[str, Any]:
        """Add objects to a collection and return the TAXII status resource of the request.

        Invalid objects are reported as failures with the reason; an object version already in
        the collection counts as a success and is not added again (posting is idempotent).
        """
        request_time = utc_now()
        successes: list[dict[str, str]] = []
        failures: list[dict[str, str]] = []
        valid: list[tuple[object, _Validated]] = []
        for obj in objects:
            try:
                valid.append((obj, _validate(obj)))
            except ValueError as exc:
                failures.append(_detail(obj, str(exc)))
        with self._writing() as cur:
            existing: set[tuple[str, str, str]] = set()
            if valid:
                rows = cur.execute(
                    "SELECT object_id, spec_version, version_from, version, content_sha256 "
                    "FROM taxii_objects WHERE collection_id = ? "
                    "AND list_contains(?::VARCHAR[], object_id)",
                    [collection_id, sorted({v.object_id for _, v in valid})],
                ).fetchall()
                for oid, spec, source, version, sha in rows:
                    if source == "date_added":
                        existing.add((oid, spec, "sha256:" + sha))
                    else:
                        existing.add((oid, spec, format_timestamp(version)))
            new: list[_Validated] = []
            for obj, v in valid:
                key = v.key()
                if key in existing:
                    successes.append(_detail(obj, "already in the collection; not added again"))
                    continue
                existing.add(key)
                new.append(v)
                successes.append(_detail(obj))
            if new:
                self._insert(cur, collection_id, new)
            status_id = str(uuid.uuid4())
            status = {
                "id": status_id,
                "status": "complete",
                "request_timestamp": format_timestamp(request_time),
                "total_count": len(objects),
                "success_count": len(successes),
                "successes": successes,
                "failure_count": len(failures),
                "failures": failures,
                "pending_count": 0,
                "pendings": [],
            }
            cur.execute(
                "INSERT INTO taxii_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    status_id,
                    api_root,
                    collection_id,
                    principal,
                    "complete",
                    request_time,
                    len(objects),
                    len(successes),
                    len(failures),
                    0,
                    json.dumps(successes),
                    json.dumps(failures),
                    "[]",
                ],
            )
        return status

    @staticmethod
    def _insert(cur: duckdb.DuckDBPyConnection, collection_id: str, rows: list[_Validated]) -> None:
        last = cur.execute("SELECT max(date_added) FROM taxii_objects").fetchone()
        start = utc_now()
        if last is not None and last[0] is not None and last[0] >= start:
            start = last[0] + _ONE_MICROSECOND
        added = [start + i * _ONE_MICROSECOND for i in range(len(rows))]
        table = pa.table(
            {
                "collection_id": pa.array([collection_id] * len(rows), pa.string()),
                "object_id": pa.array([r.object_id for r in rows], pa.string()),
                "object_type": pa.array([r.object_type for r in rows], pa.string()),
                "spec_version": pa.array([r.spec_version for r in rows], pa.string()),
                "version": pa.array(
                    [
                        r.version if r.version is not None else a
                        for r, a in zip(rows, added, strict=True)
                    ],
                    pa.timestamp("us"),
                ),
                "version_from": pa.array([r.version_from for r in rows], pa.string()),
                "date_added": pa.array(added, pa.timestamp("us")),
                "content_sha256": pa.array([r.content_sha256 for r in rows], pa.string()),
                "object_json": pa.array([r.object_json for r in rows], pa.string()),
            }
        )
        cur.register("sf_taxii_new", table)
        try:
            cur.execute("INSERT INTO taxii_objects BY NAME SELECT * FROM sf_taxii_new")
        finally:
            cur.unregister("sf_taxii_new")

    def _page(self, collection_id: str, query: ObjectQuery, *, with_json: bool) -> Page:
        selection, params = _selection(collection_id, query)
        bounds = [t for t in (query.added_after, query.after_cursor) if t is not None]
        where = "WHERE date_added > ?" if bounds else ""
        if bounds:
            params.append(max(bounds))
        json_col = "object_json" if with_json else "NULL"
        sql = (
            f"SELECT object_id, spec_version, {_VERSION_TEXT}, date_added, {json_col} "
            f"FROM ({selection}) AS selected {where} ORDER BY date_added LIMIT ?"
        )
        params.append(query.limit + 1)
        with self._reading() as cur:
            rows = cur.execute(sql, params).fetchall()
        more = len(rows) > query.limit
        return Page(
            [StoredVersion(r[0], r[1], r[2], r[3], r[4]) for r in rows[: query.limit]], more
        )

    def objects(self, collection_id: str, query: ObjectQuery) -> Page:
        """A page of objects (with their JSON) matching the query, oldest added first."""
        return self._page(collection_id, query, with_json=True)

    def manifest(self, collection_id: str, query: ObjectQuery) -> Page:
        """Like ``objects`` without the JSON: id, date_added, version, spec_version."""
        return self._page(collection_id, query, with_json=False)

    def has_object(self, collection_id: str, object_id: str) -> bool:
        with self._reading() as cur:
            row = cur.execute(
                "SELECT 1 FROM taxii_objects WHERE collection_id = ? AND object_id = ? LIMIT 1",
                [collection_id, object_id],
            ).fetchone()
        return row is not None

    def delete_object(
        self,
        collection_id: str,
        object_id: str,
        *,
        versions: VersionFilter,
        spec_versions: tuple[str, ...] = (),
    ) -> int:
        """Delete the matching versions of one object; return how many were deleted."""
        query = ObjectQuery(ids=(object_id,), versions=versions, spec_versions=spec_versions)
        selection, params = _selection(collection_id, query)
        with self._writing() as cur:
            # date_added is unique across the store: it identifies the rows to delete.
            rows = cur.execute(
                f"DELETE FROM taxii_objects WHERE collection_id = ? AND date_added IN "
                f"(SELECT date_added FROM ({selection}) AS selected) RETURNING 1",
                [collection_id, *params],
            ).fetchall()
        return len(rows)

    def count_objects(self, collection_id: str) -> int:
        with self._reading() as cur:
            row = cur.execute(
                "SELECT count(*) FROM taxii_objects WHERE collection_id = ?", [collection_id]
            ).fetchone()
        return int(row[0]) if row else 0

    # -- status ------------------------------------------------------------------------------

    def status(self, api_root: str, status_id: str) -> tuple[str, dict[str, Any]] | None:
        """(collection id, status resource) of an add-objects request, or None."""
        with self._reading() as cur:
            row = cur.execute(
                "SELECT collection_id, status_id, status, request_timestamp, total_count, "
                "success_count, successes, failure_count, failures, pending_count, pendings "
                "FROM taxii_status WHERE api_root = ? AND status_id = ?",
                [api_root, status_id],
            ).fetchone()
        if row is None:
            return None
        return row[0], {
            "id": row[1],
            "status": row[2],
            "request_timestamp": format_timestamp(row[3]),
            "total_count": row[4],
            "success_count": row[5],
            "successes": json.loads(row[6]),
            "failure_count": row[7],
            "failures": json.loads(row[8]),
            "pending_count": row[9],
            "pendings": json.loads(row[10]),
        }

    # -- tokens ------------------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        *,
        read: Sequence[str] = (),
        write: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> tuple[TokenInfo, str]:
        """Create a token; return it and its secret (shown once: only its hash is kept).

        Raises:
            IntelError: a collection does not exist, or the token would grant nothing.
        """
        if not name.strip():
            raise IntelError("a token needs a NAME saying who or what uses it")
        if not read and not write:
            raise IntelError(
                "a token without permissions is useless: give --read COLLECTION and/or "
                "--write COLLECTION ('*' for every collection)"
            )
        known = {c.id for c in self.collections()}
        normalized: dict[str, list[bool]] = {}
        for collection_id, index in [*((c, 0) for c in read), *((c, 1) for c in write)]:
            cid = collection_id if collection_id == ALL_COLLECTIONS else _uuid_text(collection_id)
            if cid != ALL_COLLECTIONS and cid not in known:
                raise IntelError(
                    f"no collection {collection_id}: list them with "
                    "`signalfire taxii collections list`"
                )
            normalized.setdefault(cid, [False, False])[index] = True
        secret = "sft_" + secrets.token_urlsafe(32)
        token_id = "tk_" + secrets.token_hex(4)
        created = utc_now()
        with self._writing() as cur:
            cur.execute(
                "INSERT INTO taxii_tokens VALUES (?, ?, ?, ?, ?, NULL)",
                [token_id, name, hash_token(secret), created, expires_at],
            )
            for cid, (can_read, can_write) in normalized.items():
                cur.execute(
                    "INSERT INTO taxii_permissions VALUES (?, ?, ?, ?)",
                    [token_id, cid, can_read, can_write],
                )
        info = TokenInfo(
            token_id,
            name,
            created,
            expires_at,
            None,
            tuple(c for c, p in normalized.items() if p[0]),
            tuple(c for c, p in normalized.items() if p[1]),
        )
        return info, secret

    def tokens(self) -> list[TokenInfo]:
        """Every token (revoked and expired ones too), oldest first."""
        with self._reading() as cur:
            rows = cur.execute(
                "SELECT t.token_id, t.name, t.created_at, t.expires_at, t.revoked_at, "
                "list(p.collection_id ORDER BY p.collection_id) FILTER (WHERE p.can_read), "
                "list(p.collection_id ORDER BY p.collection_id) FILTER (WHERE p.can_write) "
                "FROM taxii_tokens t LEFT JOIN taxii_permissions p USING (token_id) "
                "GROUP BY ALL ORDER BY t.created_at, t.token_id"
            ).fetchall()
        return [
            TokenInfo(r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), tuple(r[6] or ()))
            for r in rows
        ]

    def revoke_token(self, token: str) -> TokenInfo:
        """Revoke a token given by id or (unique, active) name.

        Raises:
            IntelError: no such token, or the name is ambiguous.
        """
        matches = [t for t in self.tokens() if t.token_id == token]
        if not matches:
            matches = [t for t in self.tokens() if t.name == token and t.revoked_at is None]
        if not matches:
            raise IntelError(
                f"no active token with id or name {token!r}: list them with "
                "`signalfire taxii tokens list`"
            )
        if len(matches) > 1:
            ids = ", ".join(t.token_id for t in matches)
            raise IntelError(f"several tokens are named {token!r} ({ids}): revoke one by its id")
        target = matches[0]
        with self._writing() as cur:
            cur.execute(
                "UPDATE taxii_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE token_id = ?",
                [utc_now(), target.token_id],
            )
        return next(t for t in self.tokens() if t.token_id == target.token_id)

    def principal_for_secret(self, secret: str) -> TokenPrincipal | None:
        """The principal of an active token, or None (unknown, revoked or expired)."""
        with self._reading() as cur:
            rows = cur.execute(
                "SELECT t.token_id, t.name, p.collection_id, p.can_read, p.can_write "
                "FROM taxii_tokens t LEFT JOIN taxii_permissions p USING (token_id) "
                "WHERE t.token_sha256 = ? AND t.revoked_at IS NULL "
                "AND (t.expires_at IS NULL OR t.expires_at > ?)",
                [hash_token(secret), utc_now()],
            ).fetchall()
        if not rows:
            return None
        return TokenPrincipal(
            name=rows[0][1],
            token_id=rows[0][0],
            readable=frozenset(r[2] for r in rows if r[3]),
            writable=frozenset(r[2] for r in rows if r[4]),
        )


def check_api_root_name(name: str) -> None:
    """Raise IntelError unless ``name`` can be an API root's URL segment."""
    if not _API_ROOT_NAME.match(name) or name.lower() in RESERVED_ROOT_NAMES:
        raise IntelError(
            f"API root name {name!r} is not usable: use letters, digits, '.', '_' or '-' "
            f"(at most 64), and none of {', '.join(sorted(RESERVED_ROOT_NAMES))}"
        )


def _uuid_text(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError as exc:
        raise IntelError(
            f"{text!r} is not a collection id (a UUID): list them with "
            "`signalfire taxii collections list`"
        ) from exc
