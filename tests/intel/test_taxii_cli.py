"""`signalfire taxii` commands, and pulling from a real server on loopback (library and CLI)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from signalfire.cli.main import main
from signalfire.errors import IntelError
from signalfire.intel.taxii_client import pull, saved_added_after
from signalfire.store import Store
from tests.intel.taxii_support import (
    TaxiiServer,
    envelope,
    free_port,
    indicator,
    run_cli,
    running_server,
)


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class InProcessCli:
    """The CLI's entry point called in this process (the commands, exit codes and output are
    those of `signalfire`; only the interpreter start-up is saved)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], db: str) -> None:
        self.capsys = capsys
        self.db = db

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.capsys.readouterr()
        code = main(["--db", self.db, "taxii", *args])
        out, err = self.capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)


def test_collections_tokens_and_push(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.duckdb")
    taxii = InProcessCli(capsys, db)
    created = _json(taxii("collections", "create", "Shared C2", "--json"))
    chosen = str(uuid.uuid4())
    assert (
        taxii("collections", "create", "Ops", "--description", "ops", "--id", chosen).returncode
        == 0
    )
    bad_id = taxii("collections", "create", "X", "--id", "not-a-uuid")
    assert bad_id.returncode == 6 and "not a UUID" in bad_id.stderr
    listed = _json(taxii("collections", "list", "--json"))
    assert [(c["id"], c["title"], c["description"], c["objects"]) for c in listed] == [
        (created["id"], "Shared C2", None, 0),
        (chosen, "Ops", "ops", 0),
    ]
    assert "Shared C2" in taxii("collections", "list").stdout

    token = _json(
        taxii("tokens", "create", "partner", "--read", created["id"], "--write", chosen, "--json")
    )
    assert token["token"].startswith("sft_") and token["active"]
    assert (token["read"], token["write"]) == ([created["id"]], [chosen])
    shown = taxii("tokens", "create", "admin", "--read", "*", "--write", "*")
    assert shown.returncode == 0 and shown.stdout.splitlines()[-1].startswith("sft_")
    unknown = taxii("tokens", "create", "x", "--read", str(uuid.uuid4()))
    assert unknown.returncode == 6 and "collections list" in unknown.stderr
    useless = taxii("tokens", "create", "nothing")
    assert useless.returncode == 6 and "--read" in useless.stderr

    bundle = tmp_path / "bundle.json"
    objects = [indicator(), indicator(value="203.0.113.5"), {"type": "indicator"}]
    bundle_id = f"bundle--{uuid.uuid4()}"
    bundle.write_text(json.dumps({"type": "bundle", "id": bundle_id, "objects": objects}))
    pushed = _json(taxii("push", str(bundle), "--collection", chosen, "--json"))
    assert (pushed["success_count"], pushed["failure_count"]) == (2, 1)
    again = taxii("push", str(bundle), "--collection", chosen)
    assert again.returncode == 0 and "0 new, 2 already there" in again.stdout
    assert "rejected (no id)" in again.stdout
    assert taxii("push", str(tmp_path / "nope.json"), "--collection", chosen).returncode == 4
    nowhere = taxii("push", str(bundle), "--collection", str(uuid.uuid4()))
    assert nowhere.returncode == 3 and "collections list" in nowhere.stderr
    listed = _json(taxii("collections", "list", "--json"))
    assert [c["objects"] for c in listed] == [0, 2]

    assert taxii("tokens", "revoke", "partner").returncode == 0
    assert taxii("tokens", "revoke", "partner").returncode == 6  # no active token of that name
    tokens = _json(taxii("tokens", "list", "--json"))
    assert [(t["name"], t["active"], t["revoked"] is not None) for t in tokens] == [
        ("partner", False, True),
        ("admin", True, False),
    ]
    # Only the hash of the secret is stored.
    with duckdb.connect(db, read_only=True) as con:
        stored = con.execute("SELECT token_sha256 FROM taxii_tokens WHERE name = 'partner'")
        hashes = stored.fetchall()
        dump = json.dumps(con.execute("SELECT * FROM taxii_tokens").fetchall(), default=str)
    assert hashes == [(hashlib.sha256(token["token"].encode()).hexdigest(),)]
    assert token["token"] not in dump


# -- pull ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaxiiServer]:
    workdir = tmp_path_factory.mktemp("taxii-feed")
    tokens: dict[str, dict[str, Any]] = {
        "admin": {"read": ["*"], "write": ["*"]},
        "puller": {"read": ["feed", "cli"]},
    }
    with running_server(workdir, ("feed", "cli", "hidden"), tokens, "--max-page-size", "10") as s:
        yield s


def test_serve_holds_the_store_and_other_commands_say_so(feed: TaxiiServer) -> None:
    busy = run_cli("--db", str(feed.db), "taxii", "collections", "create", "two")
    assert busy.returncode == 5 and "in use" in busy.stderr
    second = run_cli("--db", str(feed.db), "taxii", "serve", "--port", str(free_port()))
    assert second.returncode == 5 and "in use" in second.stderr


class Collector:
    """Stands in for the indicator store's importer: records what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.objects: list[dict[str, Any]] = []

    def __call__(self, store: Store, objects: list[dict[str, Any]], source: str) -> dict[str, int]:
        assert isinstance(store, Store)
        self.calls.append((len(objects), source))
        self.objects.extend(objects)
        return {"received": len(objects)}


@pytest.mark.parametrize("form", ["discovery", "api_root", "collection"])
def test_pull_fetches_only_what_is_new(feed: TaxiiServer, tmp_path: Path, form: str) -> None:
    url = {
        "discovery": feed.discovery,
        "api_root": feed.root,
        "collection": feed.collection_url("feed"),
    }[form]
    cid = feed.collections["feed"]
    if not _all_ids(feed, "feed"):  # the first run fills the feed; the others find it there
        assert feed.post("feed", envelope(*[indicator() for _ in range(23)])).status_code == 202
    total = len(_all_ids(feed, "feed"))
    collector = Collector()
    with Store.open(tmp_path / "client.duckdb") as store:
        first = pull(store, url, cid, token=feed.tokens["puller"], page_size=4, importer=collector)
        assert first.objects == total and first.pages == -(-total // 4)
        assert [o["id"] for o in collector.objects] == _all_ids(feed, "feed")
        assert collector.calls == [(total, f"taxii:{url.split('/')[2]}/{cid}")]
        assert first.date_added_last is not None
        assert saved_added_after(store, url, cid) == first.date_added_last

        second = pull(store, url, cid, token=feed.tokens["puller"], importer=collector)
        assert (second.objects, second.imported) == (0, None)
        assert second.requested_added_after == first.date_added_last
        assert len(collector.calls) == 1  # nothing new: the importer is not called

        new = [indicator(), indicator()]
        assert feed.post("feed", envelope(*new)).status_code == 202
        third = pull(store, url, cid, token=feed.tokens["puller"], importer=collector, source="x")
        assert [o["id"] for o in collector.objects[total:]] == [o["id"] for o in new]
        assert third.imported == {"received": 2} and collector.calls[-1] == (2, "x")
        # An explicit --added-after overrides the remembered position.
        again = pull(
            store,
            url,
            cid,
            token=feed.tokens["puller"],
            importer=collector,
            added_after="2000-01-01T00:00:00Z",
        )
        assert again.objects == total + 2


def _all_ids(server: TaxiiServer, name: str) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {}
    while True:
        response = server.get(server.collection_url(name) + "objects/", **params)
        body = response.json()
        ids.extend(o["id"] for o in body.get("objects", []))
        if not body["more"]:
            return ids
        params["next"] = body["next"]


def test_pull_errors_say_what_to_do(feed: TaxiiServer, tmp_path: Path) -> None:
    cid = feed.collections["feed"]
    with Store.open(tmp_path / "client.duckdb") as store:
        cases = [
            ({"token": "sft_wrong"}, feed.root, cid, "refused the credentials"),
            ({}, feed.root, cid, "refused the credentials"),
            ({"token": feed.tokens["puller"]}, feed.root, feed.collections["hidden"], "404"),
            ({"token": feed.tokens["puller"]}, feed.discovery, str(uuid.uuid4()), "no collection"),
            (
                {"token": feed.tokens["puller"]},
                f"http://127.0.0.1:{free_port()}/api/",
                cid,
                "reach",
            ),
            ({"added_after": "last week"}, feed.root, cid, "--added-after"),
        ]
        for kwargs, url, collection_id, message in cases:
            with pytest.raises(IntelError, match=message):
                pull(store, url, collection_id, importer=Collector(), **kwargs)


def test_pull_cli_imports_into_the_indicator_store(feed: TaxiiServer, tmp_path: Path) -> None:
    objects = [indicator(value=f"198.51.100.{n}") for n in range(1, 13)]
    assert feed.post("cli", envelope(*objects)).status_code == 202
    db = str(tmp_path / "client.duckdb")
    env = {"SIGNALFIRE_TAXII_TOKEN": feed.tokens["puller"]}
    url, cid = feed.root, feed.collections["cli"]
    first = run_cli("--db", db, "taxii", "pull", url, "--collection", cid, "--json", env=env)
    summary = _json(first)
    assert (summary["objects"], summary["pages"]) == (12, 2)
    assert summary["imported"] is not None
    with duckdb.connect(db, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM indicators").fetchone()
    assert row is not None and row[0] >= 12
    second = run_cli("--db", db, "taxii", "pull", url, "--collection", cid, env=env)
    assert second.returncode == 0, second.stderr
    assert "Pulled 0 object(s)" in second.stdout and "Nothing new" in second.stdout
    no_token = run_cli("--db", db, "taxii", "pull", url, "--collection", cid)
    assert no_token.returncode == 6 and "--token" in no_token.stderr
