"""The ``pasar`` command: serve, demo, db, vendor, staff, catalog, settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pasar.settings import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

app = typer.Typer(help="Pasar: live-stream shopping for any storefront.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
vendor_app = typer.Typer(help="Vendors (tenants).", no_args_is_help=True)
catalog_app = typer.Typer(help="Catalog import.", no_args_is_help=True)
staff_app = typer.Typer(help="A vendor's studio users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(vendor_app, name="vendor")
app.add_typer(staff_app, name="staff")
app.add_typer(catalog_app, name="catalog")
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
# How `pasar broadcast` takes the stream key (the argument also works, but argv is
# visible to every user of the machine).
STREAM_KEY_ENV = "PASAR_STREAM_KEY"


def _refuse(message: str) -> typer.Exit:
    """Print the error; the exit (status 2) is the caller's to raise."""
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _serve(settings: Settings, companions: Sequence[tuple[ASGIApp, socket.socket]] = ()) -> None:
    """Run Pasar; with ``companions`` (an app and its bound socket each, like the demo
    shop), run them in the same process and event loop, and stop them together."""
    import uvicorn

    from pasar.app import create_app
    from pasar.logging import configure
    from pasar.realtime.wire import PasarWebSocketProtocol

    configure(settings)
    access_log = settings.log_level == "debug"
    options: dict[str, Any] = {
        "http": "httptools",
        # Client addresses from X-Forwarded-For are create_app's job, for the
        # proxies in PASAR_TRUSTED_PROXIES only (uvicorn's would trust 127.0.0.1).
        "proxy_headers": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        # uvicorn's own 5 s is what clients and proxies keep an idle connection for
        # (httpx: 5 s; nginx, load balancers: 60 s): one that sends a request just
        # as uvicorn closes the connection gets no answer. Longer here, they close first.
        "timeout_keep_alive": settings.keep_alive_seconds,
        "log_level": settings.log_level,
        "access_log": access_log,
    }
    pasar: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ws": PasarWebSocketProtocol,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": False,
    }
    if not companions:
        loop = "uvloop" if sys.platform != "win32" else "asyncio"
        uvicorn.run(create_app(settings), loop=loop, **pasar, **options)
        return
    from pasar.demo.serving import serve_together

    serve_together(
        [
            (uvicorn.Config(create_app(settings), **pasar, **options), None),
            *((uvicorn.Config(app, **options), [sock]) for app, sock in companions),
        ]
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (PASAR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PASAR_PORT).")] = None,
) -> None:
    """Run the service. An empty database is upgraded first."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    _serve(Settings(**overrides))  # type: ignore[arg-type]


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the database schema (PASAR_DATABASE_URL) to REVISION."""
    from pasar.db import migrate
    from pasar.db.engine import Database

    async def run() -> None:
        settings = Settings()
        # The embedded SQLite file lives in the data dir, which a fresh machine lacks.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        try:
            await migrate.upgrade(db, revision)
            heads = await migrate.current_heads(db)
        finally:
            await db.dispose()
        console.print(f"database at revision {', '.join(sorted(heads)) or '(empty)'}")

    asyncio.run(run())


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m")]) -> None:
    """For developers: write a migration for model changes (review it before committing)."""
    from pasar.db import migrate

    asyncio.run(migrate.autogenerate(message))


@vendor_app.command("create")
def vendor_create(
    name: Annotated[str, typer.Option(help="Shop name, e.g. 'Toko Demo'.")],
    slug: Annotated[str, typer.Option(help="Short unique id: lowercase, digits, dashes.")],
    owner_email: Annotated[str, typer.Option(help="Studio login of the owner.")],
    currency: Annotated[str, typer.Option(help="Default ISO 4217 currency.")] = "IDR",
    locale: Annotated[str, typer.Option(help="Default locale, e.g. id_ID, th_TH.")] = "id_ID",
    owner_password: Annotated[
        str | None, typer.Option(help="Leave out to generate one.", envvar="PASAR_OWNER_PASSWORD")
    ] = None,
) -> None:
    """Create a vendor with an owner and a first API key (both printed once)."""
    from pydantic import EmailStr, TypeAdapter, ValidationError

    from pasar.bootstrap import create_vendor_with_owner
    from pasar.errors import DomainError

    # The same checks the API applies (VendorPatch, StaffIn), which the service skips.
    if not name.strip() or len(name.strip()) > 200:
        raise _refuse("--name must be 1 to 200 characters")
    try:
        TypeAdapter(EmailStr).validate_python(owner_email)
    except ValidationError as exc:
        raise _refuse(f"--owner-email '{owner_email}' is not an email address") from exc
    password = owner_password or secrets.token_urlsafe(12)
    try:
        created = asyncio.run(
            create_vendor_with_owner(
                Settings(),
                name=name,
                slug=slug,
                email=owner_email,
                password=password,
                currency=currency,
                locale=locale,
            )
        )
    except DomainError as exc:
        raise _refuse(exc.message) from exc
    settings = Settings()
    console.print(f"vendor [bold]{name}[/bold] ({slug}) created: {created.vendor_id}")
    console.print(
        f"studio: {settings.resolved_public_url}/studio/  login {owner_email} / {password}"
    )
    console.print(f"API key (shown once): [bold]{created.api_key}[/bold]")


VendorSlug = Annotated[str, typer.Option("--vendor", help="The vendor's slug.")]
StaffEmail = Annotated[str, typer.Argument(help="The staff user's email.")]


@staff_app.command("list")
def staff_list(vendor: VendorSlug) -> None:
    """List a vendor's staff: role, disabled or not, open sessions."""
    from pasar.bootstrap import list_staff
    from pasar.errors import DomainError

    try:
        rows = asyncio.run(list_staff(Settings(), vendor))
    except DomainError as exc:
        raise _refuse(exc.message) from exc
    for row in rows:
        state = "disabled" if row.disabled else "active"
        console.print(
            f"{row.email}  {row.role}  {state}  sessions: {row.sessions}  ({row.display_name})",
            highlight=False,
        )


def _manage(vendor: str, email: str, action: str, password: str | None = None) -> int:
    from pasar.bootstrap import manage_staff
    from pasar.errors import DomainError

    try:
        return asyncio.run(manage_staff(Settings(), vendor, email, action, password))  # type: ignore[arg-type]
    except DomainError as exc:
        raise _refuse(exc.message) from exc


@staff_app.command("disable")
def staff_disable(email: StaffEmail, vendor: VendorSlug) -> None:
    """Stop a user signing in and end their sessions now (not the last active owner)."""
    ended = _manage(vendor, email, "disable")
    console.print(f"{email} disabled; {ended} session(s) ended")


@staff_app.command("enable")
def staff_enable(email: StaffEmail, vendor: VendorSlug) -> None:
    """Let a disabled user sign in again."""
    _manage(vendor, email, "enable")
    console.print(f"{email} enabled")


@staff_app.command("reset-password")
def staff_reset_password(
    email: StaffEmail,
    vendor: VendorSlug,
    password: Annotated[
        str | None,
        typer.Option(help="Leave out to generate one.", envvar="PASAR_STAFF_PASSWORD"),
    ] = None,
) -> None:
    """Set a user's password (printed once) and end their sessions."""
    new = password or secrets.token_urlsafe(12)
    ended = _manage(vendor, email, "reset-password", new)
    console.print(f"{email}: new password {new} ; {ended} session(s) ended", highlight=False)


@staff_app.command("revoke-sessions")
def staff_revoke_sessions(email: StaffEmail, vendor: VendorSlug) -> None:
    """Sign a user out everywhere now."""
    ended = _manage(vendor, email, "revoke-sessions")
    console.print(f"{email}: {ended} session(s) ended")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    vendor: Annotated[str, typer.Option(help="The vendor's slug.")],
    format: Annotated[str, typer.Option(help="csv or shopify; guessed from the file name.")] = "",
    atomic: Annotated[bool, typer.Option(help="All or nothing.")] = False,
    store_url: Annotated[str | None, typer.Option(help="Shopify: builds product URLs.")] = None,
) -> None:
    """Import products from a CSV file or a Shopify products.json export."""
    from pasar.bootstrap import import_file
    from pasar.errors import DomainError

    kind = format or ("shopify" if file.suffix.lower() == ".json" else "csv")
    if kind not in ("csv", "shopify"):
        raise _refuse("--format is csv or shopify")
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task("import", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = asyncio.run(
                import_file(
                    Settings(),
                    file.read_bytes(),
                    vendor_slug=vendor,
                    kind=kind,
                    atomic=atomic,
                    store_url=store_url,
                    on_progress=progress,
                )
            )
        except UnicodeDecodeError as exc:
            raise _refuse(f"the file is not UTF-8 text ({exc.reason})") from exc
        except (DomainError, ValueError) as exc:
            raise _refuse(str(getattr(exc, "message", exc))) from exc
    for err in report.errors:
        console.print(f"[yellow]line {err.line}[/yellow] {err.handle or ''}: {err.reason}")
    verb = "nothing imported (atomic)" if atomic and report.errors else "imported"
    console.print(
        f"{verb}: {report.created} created, {report.updated} updated, {report.failed} failed"
    )
    if report.errors:
        raise typer.Exit(1)


def _shop_url(host: str, port: int) -> str:
    """Where a browser on this machine finds the demo shop."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _media_origins(settings: Settings) -> list[str]:
    """Origins other than Pasar's that the player loads from (the shop's CSP)."""
    hls = settings.media_server_hls_url if settings.media_server != "builtin" else None
    return [u for u in (hls, settings.s3_public_url) if u]


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port (PASAR_PORT).")] = None,
    storefront_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Port of Toko Demo's own shop, a second origin that embeds the player "
            "(default: Pasar's port + 1).",
        ),
    ] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Seed and print, then exit.")
    ] = False,
    no_broadcast: Annotated[
        bool, typer.Option("--no-broadcast", help="Do not start the synthetic live show.")
    ] = False,
) -> None:
    """Seed the demo vendor 'Toko Demo' (products, a scheduled show and a live one), print
    logins, serve, and broadcast a synthetic show over WHIP so there is live video. Also
    serves Toko Demo's own shop on another port, with the player embedded cross-origin."""
    from pasar.demo import serving
    from pasar.demo.seed import seed_demo

    settings = Settings(**({"port": port} if port else {}))  # type: ignore[arg-type]
    shop_port = storefront_port or settings.port + 1
    if shop_port == settings.port or shop_port > 65535:
        raise _refuse("the shop needs a port of its own (--storefront-port)")
    shop_url = _shop_url(settings.host, shop_port)
    listener = None
    if not no_serve:
        try:
            listener = serving.listen(settings.host, shop_port)
        except OSError as exc:
            raise _refuse(
                f"cannot serve the demo shop on port {shop_port} "
                f"({exc.strerror}); choose another with --storefront-port"
            ) from exc
    info = asyncio.run(seed_demo(settings, shop_url))
    url = settings.resolved_public_url
    console.rule("[bold]Pasar demo[/bold]")
    console.print(f"vendor      Toko Demo ({info.products} products, show '{info.show_title}')")
    console.print(f"studio      {url}/studio/")
    console.print(f"  login     {info.email} / {info.password}")
    if settings.api_docs:
        console.print(f"API docs    {url}/docs")
    console.print(f"API key     {info.api_key}")
    console.print(
        f"try         curl -H 'Authorization: Bearer {info.api_key}' {url}/api/v1/products"
    )
    console.print(f"show        {url}/api/v1/shows/{info.show_id}")
    console.print(f"live now    {url}/watch/{info.live_show_id}  (synthetic broadcast over WHIP)")
    console.print(f"  HLS       {url}/hls/{info.live_show_id}/index.m3u8")
    console.print(
        f"storefront  {shop_url}/  (Toko Demo's own shop on another origin, player embedded)"
    )
    console.rule()
    if listener is not None:
        from pasar.demo.storefront import ShopConfig, create_storefront

        shop = create_storefront(
            ShopConfig(pasar_url=url, api_key=info.api_key, media_origins=_media_origins(settings))
        )
        if not no_broadcast:
            _broadcast_when_ready(url, info.live_stream_key)
        _serve(settings, companions=[(shop, listener)])


@app.command()
def broadcast(
    whip_url: Annotated[str, typer.Argument(help="The WHIP endpoint, e.g. http://…/whip.")],
    stream_key: Annotated[
        str | None,
        typer.Argument(
            envvar=STREAM_KEY_ENV,
            show_envvar=True,
            help="The show's stream key (live_…). Prefer the environment variable: "
            "a command line is visible to every user of the machine (ps).",
        ),
    ] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Stop (and end the show) after this long.")
    ] = None,
) -> None:
    """Publish a synthetic show (test pattern with a UTC clock, 440 Hz tone) over WHIP."""
    from pasar.logging import configure
    from pasar.media.synthetic import broadcast as run

    if not stream_key:
        err_console.print(f"[red]Give the show's stream key in {STREAM_KEY_ENV}.[/red]")
        raise typer.Exit(2)
    configure(Settings())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(whip_url, stream_key, seconds=seconds))


def _broadcast_when_ready(url: str, stream_key: str) -> None:
    """Start ``pasar broadcast`` for the demo's live show once the server answers."""
    import atexit
    import subprocess
    import threading
    import time

    import httpx

    def run() -> None:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # The key goes by environment, not argv: any user can read a command line.
        child = subprocess.Popen(
            [sys.executable, "-m", "pasar", "broadcast", f"{url}/whip"],
            env={**os.environ, STREAM_KEY_ENV: stream_key},
        )
        atexit.register(child.terminate)

    threading.Thread(target=run, name="demo-broadcast", daemon=True).start()


@app.command("whip-cert")
def whip_cert(
    directory: Annotated[Path, typer.Argument(help="Where to write the two PEM files.")] = Path(
        "."
    ),
) -> None:
    """Write a P-256 DTLS certificate for FFmpeg's WHIP muxer (its default P-224 one is
    refused). Use: ffmpeg … -f whip -authorization KEY -cert_file whip-cert.pem
    -key_file whip-key.pem URL"""
    from pasar.media.certs import write_p256_certificate

    cert, key = write_p256_certificate(directory)
    console.print(f"certificate: {cert}\nprivate key: {key}")
    console.print(
        f"ffmpeg … -c:v libx264 -profile:v baseline -bf 0 -g 60 -c:a libopus -f whip "
        f"-authorization <stream key> -cert_file {cert} -key_file {key} <PASAR_PUBLIC_URL>/whip"
    )


@app.command("settings")
def settings_cmd(
    markdown: Annotated[bool, typer.Option(help="Print docs/configuration.md's table.")] = False,
) -> None:
    """List every PASAR_* setting with its default and meaning."""
    from pasar.settings_doc import markdown_table, rows

    if markdown:
        typer.echo(markdown_table())
        return
    for var, default, desc in rows():
        console.print(f"[bold]{var}[/bold] = {default}\n    {desc}", highlight=False)


@app.command("contract")
def contract_cmd(
    write: Annotated[
        bool, typer.Option(help="Rewrite the generated files in this checkout.")
    ] = False,
) -> None:
    """The real-time contract: docs/realtime.md's event tables and frontend/shared/events.ts
    (and the embed's cart events, docs/embed-events.md)."""
    from pasar.commerce import embed_contract
    from pasar.realtime.contract import replace_generated, typescript

    root = Path(__file__).resolve().parents[2]
    doc, types = root / "docs" / "realtime.md", root / "frontend" / "shared" / "events.ts"
    if not write:
        typer.echo(typescript())
        return
    doc.write_text(replace_generated(doc.read_text()))
    types.write_text(typescript())
    embed = root / "docs" / "embed-events.md"
    embed.write_text(embed_contract.markdown())
    console.print(f"wrote {doc}, {types} and {embed}")


def main() -> None:
    app()
