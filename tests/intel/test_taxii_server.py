"""The TAXII 2.1 server end to end: `signalfire taxii serve` on loopback, driven by the OASIS
client library (taxii2-client) and by raw HTTP (httpx) for what the library does not expose."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from taxii2client.common import TokenAuth
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from signalfire.intel.taxii_server import create_taxii_app
from signalfire.intel.taxii_store import TaxiiStore, parse_timestamp
from signalfire.store import Store
from tests.intel.taxii_support import (
    ROOT,
    TAXII,
    TaxiiServer,
    envelope,
    indicator,
    running_server,
)

COLLECTIONS = (
    "paging",
    "live",
    "busy",
    "added",
    "filters",
    "objects",
    "delete",
    "readonly",
    "writeonly",
    "secret",
    "media",
    "status",
)
TOKENS: dict[str, dict[str, Any]] = {
    "admin": {"read": ["*"], "write": ["*"]},
    "reader": {"read": ["paging", "readonly", "filters"]},
    "writer": {"write": ["writeonly"]},
    "revoked": {"read": ["*"], "write": ["*"], "revoked": True},
    "expired": {"read": ["*"], "expires_at": "past"},
}
MAX_PAGE = 50
MAX_CONTENT = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaxiiServer]:
    workdir = tmp_path_factory.mktemp("taxii-server")
    with running_server(
        workdir,
        COLLECTIONS,
        TOKENS,
        "--max-page-size",
        str(MAX_PAGE),
        "--max-content-length",
        str(MAX_CONTENT),
    ) as running:
        yield running


def collection(server: TaxiiServer, name: str, token: str = "admin") -> Collection:
    return Collection(server.collection_url(name), auth=TokenAuth(server.tokens[token]))


def added_order(server: TaxiiServer, name: str) -> list[tuple[str, str]]:
    """(id, version) of every object version of a collection, in date_added order."""
    body = server.get(
        server.collection_url(name) + "manifest/", **{"match[version]": "all", "limit": 10_000}
    ).json()
    assert body["more"] is False, "the test collections stay below one page of manifest"
    return [(o["id"], o["version"]) for o in body.get("objects", [])]


# -- discovery, API root, collections -----------------------------------------------------------


def test_discovery_api_root_and_collections_with_taxii2_client(server: TaxiiServer) -> None:
    discovery = Server(server.discovery, auth=TokenAuth(server.tokens["admin"]))
    assert discovery.title == "Signalfire TAXII 2.1"
    assert [r.url for r in discovery.api_roots] == [server.root]
    root = discovery.default
    assert root is not None and root.url == server.root
    assert root.versions == [TAXII]
    assert root.max_content_length == MAX_CONTENT
    assert {c.id for c in root.collections} == set(server.collections.values())
    for c in root.collections:
        assert c.can_read and c.can_write
        assert c.media_types == ["application/stix+json;version=2.1"]


def test_collections_are_listed_with_the_clients_permissions(server: TaxiiServer) -> None:
    reader = ApiRoot(server.root, auth=TokenAuth(server.tokens["reader"]))
    seen = {c.title: (c.can_read, c.can_write) for c in reader.collections}
    assert seen == {"paging": (True, False), "readonly": (True, False), "filters": (True, False)}
    writer = ApiRoot(server.root, auth=TokenAuth(server.tokens["writer"]))
    assert {c.title: (c.can_read, c.can_write) for c in writer.collections} == {
        "writeonly": (False, True)
    }
    one = collection(server, "readonly", "reader")
    assert (one.title, one.description, one.can_read, one.can_write) == (
        "readonly",
        "readonly test collection",
        True,
        False,
    )


def test_http_basic_with_the_token_as_password(server: TaxiiServer) -> None:
    root = ApiRoot(server.root, user="anyone", password=server.tokens["reader"])
    assert len(root.collections) == 3


# -- add objects, status ------------------------------------------------------------------------


def test_add_objects_returns_a_complete_status_and_is_idempotent(server: TaxiiServer) -> None:
    coll = collection(server, "status")
    good = [indicator(), indicator(value="203.0.113.9"), indicator(spec_version=None)]
    bad = [{"type": "indicator"}, {"type": "indicator", "id": "malware--" + str(uuid.uuid4())}]
    status = coll.add_objects(envelope(*good, *bad))
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (5, 3, 2)
    assert status.pending_count == 0
    assert {s["id"] for s in status.successes} == {o["id"] for o in good}
    assert all(s["version"] == "2024-01-01T00:00:00.000Z" for s in status.successes)
    assert all(f["message"] for f in status.failures)
    again = ApiRoot(server.root, auth=TokenAuth(server.tokens["admin"])).get_status(status.id)
    assert again.status == "complete" and again.successes == status.successes
    # Posting the same versions again adds nothing and still succeeds.
    repeat = coll.add_objects(envelope(*good))
    assert (repeat.success_count, repeat.failure_count) == (3, 0)
    assert all("already" in s["message"] for s in repeat.successes)
    assert len(added_order(server, "status")) == 3


def test_status_without_trailing_slash_and_unknown_status(server: TaxiiServer) -> None:
    response = server.post("status", envelope(indicator()))
    assert response.status_code == 202
    assert response.headers["content-type"] == TAXII
    status_id = response.json()["id"]
    assert server.get(f"{server.root}status/{status_id}").json()["id"] == status_id
    assert server.get(f"{server.root}status/{uuid.uuid4()}/").status_code == 404


# -- paging -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paged(server: TaxiiServer) -> list[tuple[str, str]]:
    """63 object versions (45 objects, 18 of them with a second version) in 'paging'."""
    ids = [f"indicator--{uuid.uuid4()}" for _ in range(45)]
    first = [indicator(i, value=f"192.0.2.{n}") for n, i in enumerate(ids)]
    second = [indicator(i, modified="2024-02-01T00:00:00.000Z") for i in ids[::5] + ids[1::5]]
    coll = collection(server, "paging")
    for start in range(0, len(first), 20):
        assert coll.add_objects(envelope(*first[start : start + 20])).success_count > 0
    assert coll.add_objects(envelope(*second)).success_count == len(second)
    # Versions are added in the order posted: that order, known here, is what paging must give.
    return [(o["id"], o["modified"]) for o in first + second]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(min_value=1, max_value=MAX_PAGE + 20))
def test_next_paging_never_skips_nor_repeats(
    server: TaxiiServer, paged: list[tuple[str, str]], limit: int
) -> None:
    coll = collection(server, "paging", "reader")
    seen: list[tuple[str, str]] = []
    for page in as_pages(coll.get_objects, per_request=limit, version="all"):
        objects = page.get("objects", [])
        assert len(objects) <= min(limit, MAX_PAGE)
        seen.extend((o["id"], o["modified"]) for o in objects)
    assert seen == paged


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(min_value=1, max_value=MAX_PAGE + 20))
def test_added_after_paging_never_skips_nor_repeats(
    server: TaxiiServer, paged: list[tuple[str, str]], limit: int
) -> None:
    seen: list[tuple[str, str]] = []
    params: dict[str, Any] = {"limit": limit, "match[version]": "all"}
    while True:
        response = server.get(server.collection_url("paging") + "objects/", "reader", **params)
        assert response.status_code == 200
        body = response.json()
        objects = body.get("objects", [])
        seen.extend((o["id"], o["modified"]) for o in objects)
        if not body["more"]:
            break
        params["added_after"] = response.headers["X-TAXII-Date-Added-Last"]
    assert seen == paged


def test_paging_while_objects_are_added(server: TaxiiServer) -> None:
    """Objects added between pages come after the ones already there: nothing is skipped or
    repeated, and the new ones appear at the end."""
    coll = collection(server, "live")
    before = [indicator(value=f"198.51.100.{n}") for n in range(12)]
    coll.add_objects(envelope(*before))
    seen: list[str] = []
    added: list[str] = []
    for page in as_pages(coll.get_objects, per_request=5):
        seen.extend(o["id"] for o in page.get("objects", []))
        if len(added) < 6:
            batch = [indicator(), indicator()]
            coll.add_objects(envelope(*batch))
            added.extend(o["id"] for o in batch)
    assert seen == [o["id"] for o in before] + added
    assert len(set(seen)) == len(seen)


def test_concurrent_writers_and_readers(server: TaxiiServer) -> None:
    """Several clients posting while others page: every request succeeds, every object is
    stored once, and no reader sees an object twice."""
    coll_url = server.collection_url("busy")
    posted: list[str] = []
    failures: list[str] = []
    reads: list[list[str]] = []

    def write(n: int) -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(5):
                batch = [indicator(value=f"203.0.113.{n}") for _ in range(4)]
                response = client.post(
                    coll_url + "objects/",
                    headers=server.headers("admin", **{"Content-Type": TAXII}),
                    json=envelope(*batch),
                )
                if response.status_code != 202 or response.json()["success_count"] != 4:
                    failures.append(response.text)
                posted.extend(o["id"] for o in batch)

    def read() -> None:
        for _ in range(3):
            reads.append(_page_all(server, coll_url, limit=7))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures
    assert all(len(ids) == len(set(ids)) for ids in reads)
    final = _page_all(server, coll_url)
    assert sorted(final) == sorted(posted)


def _page_all(server: TaxiiServer, coll_url: str, limit: int = MAX_PAGE) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    with httpx.Client(timeout=60) as client:
        while True:
            response = client.get(
                coll_url + "objects/", headers=server.headers("admin"), params=params
            )
            assert response.status_code == 200, response.text
            body = response.json()
            ids.extend(o["id"] for o in body.get("objects", []))
            if not body["more"]:
                return ids
            params["next"] = body["next"]


def test_added_after_and_date_added_headers(server: TaxiiServer) -> None:
    url = server.collection_url("added") + "objects/"
    first = [indicator() for _ in range(3)]
    assert server.post("added", envelope(*first)).status_code == 202
    response = server.get(url)
    head_first = parse_timestamp(response.headers["X-TAXII-Date-Added-First"])
    head_last = parse_timestamp(response.headers["X-TAXII-Date-Added-Last"])
    assert head_first < head_last
    second = [indicator() for _ in range(2)]
    assert server.post("added", envelope(*second)).status_code == 202
    newer = server.get(url, added_after=response.headers["X-TAXII-Date-Added-Last"])
    assert [o["id"] for o in newer.json()["objects"]] == [o["id"] for o in second]
    assert parse_timestamp(newer.headers["X-TAXII-Date-Added-First"]) > head_last
    none = server.get(url, added_after=newer.headers["X-TAXII-Date-Added-Last"])
    assert none.json() == {"more": False}
    assert "X-TAXII-Date-Added-First" not in none.headers
    assert server.get(url, added_after="yesterday").status_code == 400
    assert server.get(url, limit="0").status_code == 400
    assert server.get(url, next="not-a-token").status_code == 400


# -- filters ------------------------------------------------------------------------------------

A = f"indicator--{uuid.uuid4()}"
B = f"indicator--{uuid.uuid4()}"
M = f"malware--{uuid.uuid4()}"
V1, V2, V3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def filtered(server: TaxiiServer) -> None:
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "id": M,
        "created": V1,
        "modified": V1,
        "name": "PoisonIvy",
        "is_family": True,
    }
    sco = {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}"}
    sco["value"] = "192.0.2.1"
    objects = [
        indicator(A, modified=V2),
        indicator(A, modified=V1),
        indicator(A, modified=V3),
        malware,
        indicator(B, modified=V1, spec_version=None),
        # The same version of B in STIX 2.0 (no spec_version in 2.0 objects; declared here).
        indicator(B, modified=V1, spec_version="2.0"),
        sco,
    ]
    status = collection(server, "filters").add_objects(envelope(*objects))
    assert status.success_count == len(objects)


def _ids_versions(server: TaxiiServer, **params: Any) -> list[tuple[str, str]]:
    response = server.get(server.collection_url("filters") + "objects/", "reader", **params)
    assert response.status_code == 200, response.text
    return [
        (o["id"], o.get("modified", o.get("spec_version", "")))
        for o in response.json().get("objects", [])
    ]


@pytest.mark.usefixtures("filtered")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"match[id]": A}, [(A, V3)]),
        ({"match[id]": f"{A},{M}"}, [(A, V3), (M, V1)]),
        ({"match[type]": "malware"}, [(M, V1)]),
        ({"match[type]": "malware,indicator", "match[id]": A}, [(A, V3)]),
        ({"match[id]": A, "match[version]": "first"}, [(A, V1)]),
        ({"match[id]": A, "match[version]": "all"}, [(A, V2), (A, V1), (A, V3)]),
        ({"match[id]": A, "match[version]": V2}, [(A, V2)]),
        ({"match[id]": A, "match[version]": "first,last"}, [(A, V1), (A, V3)]),
        ({"match[id]": A, "match[version]": f"{V2},last"}, [(A, V2), (A, V3)]),
        ({"match[id]": A, "match[version]": "2024-02-01T00:00:00Z"}, [(A, V2)]),
        ({"match[id]": A, "match[version]": "2030-01-01T00:00:00Z"}, []),
        # Without match[spec_version], only the latest spec version of each object.
        ({"match[id]": B}, [(B, V1)]),
        ({"match[id]": B, "match[spec_version]": "2.0"}, [(B, V1)]),
        ({"match[id]": B, "match[spec_version]": "2.0,2.1"}, [(B, V1), (B, V1)]),
        ({"match[type]": "ipv4-addr", "match[spec_version]": "2.0"}, []),
    ],
)
def test_match_filters(
    server: TaxiiServer, params: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert _ids_versions(server, **params) == expected


@pytest.mark.usefixtures("filtered")
def test_spec_version_filter_picks_the_representation(server: TaxiiServer) -> None:
    url = server.collection_url("filters") + "objects/"
    latest = server.get(url, "reader", **{"match[id]": B}).json()["objects"]
    assert [o.get("spec_version", "2.1") for o in latest] == ["2.1"]
    old = server.get(url, "reader", **{"match[id]": B, "match[spec_version]": "2.0"}).json()
    assert [o["spec_version"] for o in old["objects"]] == ["2.0"]


@pytest.mark.usefixtures("filtered")
def test_manifest_and_versions(server: TaxiiServer) -> None:
    coll = collection(server, "filters", "reader")
    manifest = coll.get_manifest()
    entries = manifest["objects"]
    assert len(entries) == 4 and {A, B, M} <= {e["id"] for e in entries}
    for e in entries:
        assert set(e) == {"id", "date_added", "version", "media_type"}
        assert e["media_type"] == "application/stix+json;version=2.1"
    added = [parse_timestamp(e["date_added"]) for e in entries]
    assert added == sorted(added) and len(set(added)) == len(added)
    sco = next(e for e in entries if e["id"].startswith("ipv4-addr--"))
    assert sco["version"] == sco["date_added"]  # no created/modified: the version is date_added
    assert {e["version"] for e in entries if e["id"] == A} == {V3}
    assert coll.get_manifest(type="malware")["objects"][0]["id"] == M
    assert [e["version"] for e in coll.get_manifest(id=A, version="all")["objects"]] == [V2, V1, V3]
    assert coll.object_versions(A)["versions"] == [V2, V1, V3]
    assert coll.object_versions(B, spec_version="2.0")["versions"] == [V1]
    assert coll.object_versions(B, spec_version="2.0,2.1")["versions"] == [V1, V1]
    paged = server.get(server.collection_url("filters") + f"objects/{A}/versions/", limit=2)
    assert paged.json()["more"] is True and paged.json()["versions"] == [V2, V1]
    assert "X-TAXII-Date-Added-Last" in paged.headers


@pytest.mark.usefixtures("filtered")
def test_get_an_object(server: TaxiiServer) -> None:
    coll = collection(server, "filters", "reader")
    assert [o["modified"] for o in coll.get_object(A)["objects"]] == [V3]
    assert [o["modified"] for o in coll.get_object(A, version="all")["objects"]] == [V2, V1, V3]
    missing = server.get(server.collection_url("filters") + f"objects/indicator--{uuid.uuid4()}/")
    assert missing.status_code == 404
    filtered_out = server.get(
        server.collection_url("filters") + f"objects/{A}/",
        **{"match[version]": "2030-01-01T00:00:00Z"},
    )
    assert filtered_out.status_code == 200 and "objects" not in filtered_out.json()


@pytest.mark.usefixtures("filtered")
def test_bad_filters_are_400(server: TaxiiServer) -> None:
    url = server.collection_url("filters") + "objects/"
    for params in ({"match[version]": "newest"}, {"limit": "many"}, {"added_after": "2024-01-01"}):
        response = server.get(url, **params)
        assert response.status_code == 400, params
        assert response.json()["http_status"] == "400"


# -- delete -------------------------------------------------------------------------------------


def test_delete_an_object(server: TaxiiServer) -> None:
    coll = collection(server, "delete")
    oid = f"indicator--{uuid.uuid4()}"
    keep = indicator()
    coll.add_objects(envelope(indicator(oid, modified=V1), indicator(oid, modified=V2), keep))
    coll.delete_object(oid, version=V1)
    assert coll.object_versions(oid)["versions"] == [V2]
    coll.delete_object(oid)  # no match[version]: every version
    assert server.get(server.collection_url("delete") + f"objects/{oid}/").status_code == 404
    response = server.http().delete(
        server.collection_url("delete") + f"objects/{oid}/", headers=server.headers("admin")
    )
    assert response.status_code == 404
    assert [o["id"] for o in coll.get_objects()["objects"]] == [keep["id"]]


# -- authentication and permissions -------------------------------------------------------------


def _coll(server: TaxiiServer, name: str) -> str:
    return server.collection_url(name)


PERMISSIONS = [
    # (token, method, path under the collection or None for discovery/api root, expected)
    (None, "GET", "discovery", 401),
    (None, "GET", "collections", 401),
    (None, "GET", "readonly:objects/", 401),
    (None, "POST", "readonly:objects/", 401),
    ("sft_not-a-token", "GET", "discovery", 401),
    ("sft_not-a-token", "GET", "readonly:objects/", 401),
    ("revoked", "GET", "readonly:objects/", 401),
    ("revoked", "POST", "readonly:objects/", 401),
    ("expired", "GET", "readonly:objects/", 401),
    ("reader", "GET", "discovery", 200),
    ("reader", "GET", "readonly:", 200),
    ("reader", "GET", "readonly:objects/", 200),
    ("reader", "GET", "readonly:manifest/", 200),
    ("reader", "POST", "readonly:objects/", 403),
    ("reader", "DELETE", "readonly:objects/indicator--00000000-0000-4000-8000-000000000000/", 403),
    ("reader", "GET", "secret:", 404),
    ("reader", "GET", "secret:objects/", 404),
    ("reader", "GET", "secret:manifest/", 404),
    ("reader", "POST", "secret:objects/", 404),
    ("writer", "GET", "writeonly:", 200),
    ("writer", "GET", "writeonly:objects/", 403),
    ("writer", "GET", "writeonly:manifest/", 403),
    ("writer", "POST", "writeonly:objects/", 202),
    ("writer", "GET", "readonly:objects/", 404),
    ("admin", "GET", "secret:objects/", 200),
    ("admin", "GET", "nosuch:objects/", 404),
    ("admin", "GET", "/nosuchroot/collections/", 404),
    ("admin", "GET", "/nosuchroot/", 404),
    ("admin", "GET", "/taxii2/nosuch/endpoint/", 404),
]


@pytest.mark.parametrize(("token", "method", "where", "expected"), PERMISSIONS)
def test_permissions(
    server: TaxiiServer, token: str | None, method: str, where: str, expected: int
) -> None:
    if where == "discovery":
        url = server.discovery
    elif where == "collections":
        url = server.root + "collections/"
    elif where.startswith("/"):
        url = server.base + where
    else:
        name, _, rest = where.partition(":")
        url = (
            _coll(server, name) + rest
            if name in server.collections
            else f"{server.root}collections/{uuid.uuid4()}/{rest}"
        )
    headers = server.headers(token, **{"Content-Type": TAXII})
    response = server.http().request(
        method, url, headers=headers, json=envelope(indicator()) if method == "POST" else None
    )
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == TAXII
    if expected >= 400:
        body = response.json()
        assert body["http_status"] == str(expected)
        assert body["title"] and body["description"]
    if expected == 401:
        assert "Bearer" in response.headers["WWW-Authenticate"]


def test_status_of_another_clients_collection_is_404(server: TaxiiServer) -> None:
    status_id = server.post("secret", envelope(indicator())).json()["id"]
    assert server.get(f"{server.root}status/{status_id}/", "admin").status_code == 200
    assert server.get(f"{server.root}status/{status_id}/", "reader").status_code == 404


# -- media types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (TAXII, 200),
        ("application/taxii+json", 200),
        ("application/taxii+json; version=2.1", 200),
        ("text/html, application/taxii+json;version=2.1;q=0.9", 200),
        ("*/*", 200),
        ("application/json", 406),
        ("application/taxii+json;version=2.0", 406),
        ("application/stix+json;version=2.1", 406),
        ("application/taxii+json;version=2.1;q=0", 406),
    ],
)
def test_accept_header(server: TaxiiServer, accept: str, expected: int) -> None:
    headers = {**server.headers("admin"), "Accept": accept}
    response = server.http().get(_coll(server, "media") + "objects/", headers=headers)
    assert response.status_code == expected
    assert response.headers["content-type"] == TAXII


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (TAXII, b'{"objects": []}', 202),
        ("application/taxii+json", b'{"objects": []}', 202),
        ("application/json", b'{"objects": []}', 415),
        ("application/stix+json;version=2.1", b'{"objects": []}', 415),
        ("application/taxii+json;version=2.0", b'{"objects": []}', 415),
        (TAXII, b"not json", 400),
        (TAXII, b"[1, 2]", 400),
        (TAXII, b'{"objects": {}}', 400),
        (TAXII, b'{"objects": [' + b'{"type": "x"},' * 30_000 + b"{}]}", 413),
    ],
)
def test_post_content_type_and_body(
    server: TaxiiServer, content_type: str, body: bytes, expected: int
) -> None:
    headers = {**server.headers("admin"), "Content-Type": content_type}
    response = server.http().post(
        _coll(server, "media") + "objects/", headers=headers, content=body
    )
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == TAXII
    if expected >= 400:
        assert response.json()["http_status"] == str(expected)


# -- mounting -----------------------------------------------------------------------------------


def test_taxii_app_mounted_under_a_prefix(tmp_path: Path) -> None:
    """The web console mounts the same application under its own path: URLs follow. A token
    revoked while the server runs (same process) is refused from the next request."""
    with Store.open(tmp_path / "mounted.duckdb") as store:
        taxii = TaxiiStore(store.con)
        coll = taxii.create_collection("mounted")
        token, secret = taxii.create_token("console", read=["*"], write=["*"])
        outer = FastAPI()
        outer.mount("/intel/taxii", create_taxii_app(store))
        config = uvicorn.Config(outer, host="127.0.0.1", port=0, log_level="warning")
        web = uvicorn.Server(config)
        thread = threading.Thread(target=web.run, daemon=True)
        thread.start()
        try:
            deadline = 600  # polls of 50 ms: 30 s
            while not web.started and thread.is_alive() and deadline:
                thread.join(0.05)
                deadline -= 1
            assert web.started, "uvicorn did not start"
            port = web.servers[0].sockets[0].getsockname()[1]
            base = f"http://127.0.0.1:{port}/intel/taxii"
            discovery = Server(base + "/taxii2/", auth=TokenAuth(secret))
            assert [r.url for r in discovery.api_roots] == [f"{base}/{ROOT}/"]
            found = discovery.api_roots[0].collections
            assert [c.id for c in found] == [coll.id]
            assert found[0].add_objects(envelope(indicator())).success_count == 1
            unknown = httpx.get(base + "/nowhere", headers={"Authorization": f"Bearer {secret}"})
            assert unknown.status_code == 404 and unknown.json()["http_status"] == "404"
            taxii.revoke_token(token.token_id)
            refused = httpx.get(base + "/taxii2/", headers={"Authorization": f"Bearer {secret}"})
            assert refused.status_code == 401
        finally:
            web.should_exit = True
            thread.join(30)
