"""``signalfire taxii``: serve TAXII 2.1 collections, manage their tokens, publish and pull."""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from signalfire.cli import output
from signalfire.cli.main import global_options
from signalfire.errors import ConfigError, IntelError, SourceError
from signalfire.intel.taxii_store import (
    DEFAULT_API_ROOT,
    PULL_PAGE_SIZE,
    CollectionInfo,
    TaxiiStore,
    TokenInfo,
    check_api_root_name,
    format_timestamp,
    utc_now,
)
from signalfire.store import Store

#: Failures printed after a push (--json gives them all).
TOP = 10


@click.group("taxii")
def taxii_group() -> None:
    """TAXII 2.1: serve collections, manage their tokens, publish and pull intelligence."""


# -- serve ------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@taxii_group.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback exposes the server to the network.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--title", default=None, help="Title in the discovery resource.")
@click.option(
    "--api-root",
    default=DEFAULT_API_ROOT,
    show_default=True,
    help="The default API root (discovery's 'default').",
)
@click.option(
    "--max-page-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Most objects per response, whatever limit a client asks for.",
)
@click.option(
    "--max-content-length",
    type=click.IntRange(min=1024),
    default=32 * 1024 * 1024,
    show_default=True,
    help="Largest POST body accepted (bytes).",
)
@click.option(
    "--certfile",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="TLS certificate (PEM): serve HTTPS, as TAXII 2.1 requires off loopback.",
)
@click.option(
    "--keyfile",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="TLS private key (PEM) of --certfile.",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    title: str | None,
    api_root: str,
    max_page_size: int,
    max_content_length: int,
    certfile: Path | None,
    keyfile: Path | None,
) -> None:
    """Run the TAXII 2.1 server over the store's collections (Ctrl-C stops it).

    The server holds the store while it runs: create collections and tokens before starting it.
    """
    import uvicorn

    from signalfire.intel.taxii_server import TaxiiServerConfig, create_taxii_app

    if (certfile is None) != (keyfile is None):
        raise ConfigError("give both --certfile and --keyfile to serve HTTPS, or neither")
    try:
        check_api_root_name(api_root)
    except IntelError as exc:
        raise ConfigError(f"--api-root: {exc}") from exc
    if not _is_loopback(host):
        output.stderr.print(
            f"[yellow]warning:[/] listening on {host}, reachable from the network"
            + (
                ""
                if certfile
                else " over plain HTTP; TAXII 2.1 requires HTTPS: give --certfile/--keyfile "
                "or put a TLS reverse proxy in front"
            )
        )
    config = TaxiiServerConfig(
        default_api_root=api_root,
        max_page_size=max_page_size,
        max_content_length=max_content_length,
        **({"title": title} if title else {}),
    )
    store = Store.open(global_options(ctx).db)
    try:
        taxii = TaxiiStore(store.con)
        if not any(t.active for t in taxii.tokens()):
            output.stderr.print(
                "[yellow]warning:[/] no active token: every request will be refused; create one "
                "with `signalfire taxii tokens create NAME --read COLLECTION`"
            )
        app = create_taxii_app(store, config=config)
        scheme = "https" if certfile else "http"
        shown = f"[{host}]" if ":" in host else host
        output.stderr.print(
            f"TAXII 2.1 server: discovery at {scheme}://{shown}:{port}/taxii2/ "
            f"({len(taxii.collections())} collection(s))"
        )
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            log_level="info",
        )
    finally:
        store.close()


# -- collections ------------------------------------------------------------------------------


@taxii_group.group("collections")
def collections_group() -> None:
    """Create and list the collections the server offers."""


def _collection_json(c: CollectionInfo, objects: int) -> dict[str, Any]:
    return {
        "id": c.id,
        "api_root": c.api_root,
        "title": c.title,
        "description": c.description,
        "media_types": list(c.media_types),
        "created": format_timestamp(c.created_at),
        "objects": objects,
    }


@collections_group.command("create")
@click.argument("title")
@click.option("--description", default=None, help="What the collection holds, for clients.")
@click.option("--id", "collection_id", default=None, help="Its UUID (default: a random one).")
@click.option("--api-root", default=DEFAULT_API_ROOT, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def collections_create(
    ctx: click.Context,
    title: str,
    description: str | None,
    collection_id: str | None,
    api_root: str,
    as_json: bool,
) -> None:
    """Create a collection named TITLE."""
    with Store.open(global_options(ctx).db) as store:
        info = TaxiiStore(store.con).create_collection(
            title, description=description, collection_id=collection_id, api_root=api_root
        )
    if as_json:
        output.print_json(_collection_json(info, 0))
    else:
        output.stdout.print(f"Created collection {info.id} ({info.title}) in /{info.api_root}/.")


@collections_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def collections_list(ctx: click.Context, as_json: bool) -> None:
    """List the collections with their object counts."""
    with Store.open(global_options(ctx).db, read_only=True) as store:
        taxii = TaxiiStore(store.con)
        rows = [_collection_json(c, taxii.count_objects(c.id)) for c in taxii.collections()]
    if as_json:
        output.print_json(rows)
        return
    if not rows:
        output.stdout.print(
            "No collections: create one with `signalfire taxii collections create TITLE`."
        )
        return
    table = Table("id", "api root", "title", "objects", "created (UTC)", box=None)
    for r in rows:
        table.add_row(r["id"], r["api_root"], r["title"], f"{r['objects']:,}", r["created"][:19])
    output.stdout.print(table)


# -- tokens -----------------------------------------------------------------------------------


@taxii_group.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke the API tokens of the server."""


def _token_json(t: TokenInfo) -> dict[str, Any]:
    return {
        "id": t.token_id,
        "name": t.name,
        "created": format_timestamp(t.created_at),
        "expires": format_timestamp(t.expires_at) if t.expires_at else None,
        "revoked": format_timestamp(t.revoked_at) if t.revoked_at else None,
        "active": t.active,
        "read": list(t.read),
        "write": list(t.write),
    }


@tokens_group.command("create")
@click.argument("name")
@click.option("--read", "read", multiple=True, metavar="COLLECTION", help="May read it ('*': all).")
@click.option(
    "--write", "write", multiple=True, metavar="COLLECTION", help="May add to it ('*': all)."
)
@click.option(
    "--expires-days",
    type=click.IntRange(min=1),
    default=None,
    help="Expire after N days (default: never).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def tokens_create(
    ctx: click.Context,
    name: str,
    read: tuple[str, ...],
    write: tuple[str, ...],
    expires_days: int | None,
    as_json: bool,
) -> None:
    """Create a token for NAME; it is printed once (only its hash is kept)."""
    expires = utc_now() + timedelta(days=expires_days) if expires_days else None
    with Store.open(global_options(ctx).db) as store:
        info, secret = TaxiiStore(store.con).create_token(
            name, read=read, write=write, expires_at=expires
        )
    if as_json:
        output.print_json({**_token_json(info), "token": secret})
        return
    output.stdout.print(f"Token {info.token_id} for {info.name}:")
    output.emit_line(secret)
    output.stderr.print(
        "Keep it now: it is not stored and cannot be shown again. Clients send it as "
        "'Authorization: Bearer <token>'."
    )


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def tokens_list(ctx: click.Context, as_json: bool) -> None:
    """List the tokens (never their secrets)."""
    with Store.open(global_options(ctx).db, read_only=True) as store:
        rows = [_token_json(t) for t in TaxiiStore(store.con).tokens()]
    if as_json:
        output.print_json(rows)
        return
    if not rows:
        output.stdout.print("No tokens: create one with `signalfire taxii tokens create NAME`.")
        return
    table = Table("id", "name", "state", "read", "write", "created (UTC)", box=None)
    for r in rows:
        state = "active" if r["active"] else ("revoked" if r["revoked"] else "expired")
        table.add_row(
            r["id"],
            r["name"],
            state,
            ", ".join(r["read"]),
            ", ".join(r["write"]),
            r["created"][:19],
        )
    output.stdout.print(table)


@tokens_group.command("revoke")
@click.argument("token")
@click.pass_context
def tokens_revoke(ctx: click.Context, token: str) -> None:
    """Revoke TOKEN (its id, or its name when unique); it is refused from the next request."""
    with Store.open(global_options(ctx).db) as store:
        info = TaxiiStore(store.con).revoke_token(token)
    output.stdout.print(f"Revoked token {info.token_id} ({info.name}).")


# -- push and pull ----------------------------------------------------------------------------


def _read_objects(path: Path) -> list[Any]:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SourceError(f"{path} is not JSON ({exc}): give a STIX 2.1 bundle") from exc
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("objects"), list):
        return list(document["objects"])  # a STIX bundle or a TAXII envelope
    if isinstance(document, dict) and "type" in document and "id" in document:
        return [document]
    raise SourceError(f"{path} holds no STIX objects: give a STIX 2.1 bundle")


@taxii_group.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--collection", "collection_id", required=True, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the TAXII status resource.")
@click.pass_context
def push_command(ctx: click.Context, file: Path, collection_id: str, as_json: bool) -> None:
    """Add the objects of a STIX bundle FILE to a local collection (to publish them)."""
    objects = _read_objects(file)
    with Store.open(global_options(ctx).db) as store:
        taxii = TaxiiStore(store.con)
        info = taxii.collection(collection_id)
        if info is None:
            raise ConfigError(
                f"no collection {collection_id}: list them with `signalfire taxii collections "
                "list` or create one"
            )
        status = taxii.add_objects(
            info.id, objects, api_root=info.api_root, principal="signalfire taxii push"
        )
    if as_json:
        output.print_json(status)
        return
    repeated = sum(1 for s in status["successes"] if "message" in s)
    output.stdout.print(
        f"{status['success_count']:,} of {status['total_count']:,} object(s) in collection "
        f"{info.id} ({status['success_count'] - repeated:,} new, {repeated:,} already there), "
        f"{status['failure_count']:,} rejected."
    )
    for failure in status["failures"][:TOP]:
        output.stdout.print(f"  rejected {failure['id'] or '(no id)'}: {failure['message']}")
    if status["failure_count"] > TOP:
        output.stdout.print(f"  ... and {status['failure_count'] - TOP} more (--json for all).")


@taxii_group.command("pull")
@click.argument("url")
@click.option("--collection", "collection_id", required=True, metavar="ID")
@click.option(
    "--token",
    envvar="SIGNALFIRE_TAXII_TOKEN",
    default=None,
    help="Bearer token of the remote server (default: $SIGNALFIRE_TAXII_TOKEN).",
)
@click.option("--user", default=None, help="User for HTTP Basic, for servers that need it.")
@click.option(
    "--password",
    envvar="SIGNALFIRE_TAXII_PASSWORD",
    default=None,
    help="Password for --user (default: $SIGNALFIRE_TAXII_PASSWORD).",
)
@click.option(
    "--added-after",
    default=None,
    metavar="TIMESTAMP",
    help="Fetch objects added after this (default: where the last pull of it stopped).",
)
@click.option("--source", default=None, help="Source name on the imported indicators.")
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    default=PULL_PAGE_SIZE,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary for scripts.")
@click.pass_context
def pull_command(
    ctx: click.Context,
    url: str,
    collection_id: str,
    token: str | None,
    user: str | None,
    password: str | None,
    added_after: str | None,
    source: str | None,
    page_size: int,
    as_json: bool,
) -> None:
    """Fetch the new objects of a remote TAXII 2.1 collection into the indicator store.

    URL is the server's discovery URL (.../taxii2/), an API root or the collection's URL.
    """
    # Imported here: the HTTP client stack is only needed by this command.
    from signalfire.intel import taxii_client

    if token and user:
        raise ConfigError("give either --token or --user/--password, not both")
    with Store.open(global_options(ctx).db) as store:
        result = taxii_client.pull(
            store,
            url,
            collection_id,
            token=token,
            user=user,
            password=password,
            added_after=added_after,
            source=source,
            page_size=page_size,
        )
    data = result.to_json()
    if as_json:
        output.print_json(data)
        return
    since = f" added after {result.requested_added_after}" if result.requested_added_after else ""
    output.stdout.print(
        f"Pulled {result.objects:,} object(s){since} from {url} (collection "
        f"{collection_id}) in {result.pages} page(s)."
    )
    imported = data["imported"]
    if isinstance(imported, dict) and "indicators" in imported:
        counts = ", ".join(
            f"{imported[k]:,} {k}"
            for k in ("new", "updated", "unchanged", "unevaluable")
            if isinstance(imported.get(k), int)
        )
        output.stdout.print(
            f"Imported as {result.source}: {imported['indicators']:,} indicator(s) ({counts}), "
            f"{imported.get('objects', 0):,} other STIX object(s)."
        )
    elif imported is not None:
        output.stdout.print(f"Imported as {result.source}: {json.dumps(imported, default=str)}")
    elif result.objects == 0:
        output.stdout.print("Nothing new since the last pull.")


def register(cli: click.Group) -> None:
    """Add ``taxii`` to the CLI."""
    cli.add_command(taxii_group)
