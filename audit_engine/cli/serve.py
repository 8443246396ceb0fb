"""``census-audit serve``: the review web application (docs/web.md)."""

from __future__ import annotations

import click

from audit_engine.cli.context import AppContext, UserError, examples


@click.command(epilog=examples("census-audit serve", "census-audit serve --host 0.0.0.0 --port 8443 --threads 16"))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Requests served at once (waitress worker threads).")
@click.option("--secret-file", type=click.Path(dir_okay=False),
              help="File holding the session-signing key (kept across restarts); default: a new key per start.")
@click.option("--insecure-cookies", is_flag=True,
              help="Send the session cookie over plain HTTP to a non-loopback host (testing only).")
@click.pass_obj
def serve(app: AppContext, host: str, port: int, threads: int, secret_file: str | None, insecure_cookies: bool) -> None:
    """Serve the web application for QC officers, leadership and supervision (sign-in required)."""
    from pathlib import Path

    from waitress import serve as waitress_serve

    from audit_engine.access.operators import registry_size
    from audit_engine.web import create_app

    engine = app.ready_engine()
    if registry_size(engine) == 0:
        raise UserError("no operators are registered: add them (census-audit operator add) and set their "
                        "passwords (census-audit operator passwd) first")
    secret = None
    if secret_file:
        path = Path(secret_file)
        if not path.exists():
            import secrets

            path.write_text(secrets.token_hex(32), "utf-8")
            path.chmod(0o600)
        secret = path.read_text("utf-8").strip()
    web = create_app(engine, secret_key=secret, secure_cookies=not insecure_cookies)
    click.echo(f"census-audit web application on http://{host}:{port}/ (store {app.safe_url}); Ctrl-C stops it",
               err=True)
    waitress_serve(web, host=host, port=port, threads=threads, ident="census-audit", clear_untrusted_proxy_headers=True)
