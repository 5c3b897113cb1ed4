"""A real TAXII server for the tests: ``signalfire taxii serve`` in a subprocess on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from signalfire.intel.taxii_store import MEDIA_TYPE_TAXII, TaxiiStore, utc_now
from signalfire.store import Store

TAXII = MEDIA_TYPE_TAXII
ROOT = "signalfire"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signalfire", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def indicator(
    id_: str | None = None,
    *,
    modified: str = "2024-01-01T00:00:00.000Z",
    created: str = "2024-01-01T00:00:00.000Z",
    spec_version: str | None = "2.1",
    value: str = "198.51.100.7",
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "id": id_ or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified,
        "name": f"C2 {value}",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": created,
    }
    if spec_version is not None:
        obj["spec_version"] = spec_version
    return obj


def envelope(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"objects": list(objects)}


@dataclass
class TaxiiServer:
    """A running server: its URL, the collection ids and token secrets it was set up with."""

    base: str
    db: Path
    collections: dict[str, str]
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def discovery(self) -> str:
        return f"{self.base}/taxii2/"

    @property
    def root(self) -> str:
        return f"{self.base}/{ROOT}/"

    def collection_url(self, name: str) -> str:
        return f"{self.root}collections/{self.collections[name]}/"

    def headers(self, token: str | None, **extra: str) -> dict[str, str]:
        headers = {"Accept": TAXII}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        headers.update(extra)
        return headers

    def http(self) -> httpx.Client:
        if "default" not in self.clients:
            self.clients["default"] = httpx.Client(timeout=30)
        return self.clients["default"]

    def get(self, url: str, token: str | None = "admin", **params: Any) -> httpx.Response:
        return self.http().get(url, headers=self.headers(token), params=params)

    def post(self, name: str, body: dict[str, Any], token: str | None = "admin") -> httpx.Response:
        return self.http().post(
            self.collection_url(name) + "objects/",
            headers=self.headers(token, **{"Content-Type": TAXII}),
            json=body,
        )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"taxii serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=2)  # any answer (401 without a token) means it is up
            return
        except httpx.TransportError:
            time.sleep(0.05)  # polling interval, not a synchronization
    raise RuntimeError(f"taxii serve did not answer within 60 s:\n{log.read_text()}")


@contextmanager
def running_server(
    workdir: Path,
    collections: tuple[str, ...],
    tokens: dict[str, dict[str, Any]],
    *serve_args: str,
) -> Iterator[TaxiiServer]:
    """Set up collections and tokens in a fresh store, then serve it until the block ends.

    ``tokens`` maps a name to ``create_token`` keyword arguments whose collection names are
    replaced by their ids; ``revoked=True`` revokes it after creation.
    """
    db = workdir / "server.duckdb"
    ids: dict[str, str] = {}
    secrets: dict[str, str] = {}
    with Store.open(db) as store:
        taxii = TaxiiStore(store.con)
        for name in collections:
            ids[name] = taxii.create_collection(name, description=f"{name} test collection").id
        for name, spec in tokens.items():
            spec = dict(spec)
            revoke = spec.pop("revoked", False)
            for key in ("read", "write"):
                spec[key] = [c if c == "*" else ids[c] for c in spec.get(key, ())]
            if spec.get("expires_at") == "past":
                spec["expires_at"] = utc_now().replace(year=2000)
            info, secret = taxii.create_token(name, **spec)
            if revoke:
                taxii.revoke_token(info.token_id)
            secrets[name] = secret
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "signalfire",
                "--db",
                str(db),
                "taxii",
                "serve",
                "--port",
                str(port),
                *serve_args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    server = TaxiiServer(base, db, ids, secrets, process, log)
    try:
        _wait_ready(server.discovery, process, log)
        yield server
    finally:
        for client in server.clients.values():
            client.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
