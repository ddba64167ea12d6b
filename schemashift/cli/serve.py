"""``schemashift serve``: the gates, the registry, status, metrics and a status page over
HTTP (docs/serve.md). Needs the ``[server]`` extra (starlette, uvicorn, prometheus-client),
imported only when the command runs.
"""

from __future__ import annotations

import importlib.util
import os

import click

from schemashift.cli.common import database_url_for, database_url_option, fail, load_config_for

TOKEN_ENV = "SCHEMASHIFT_SERVE_TOKEN"


def _token(token_file: str | None) -> str | None:
    """--token-file (a mounted Secret), else SCHEMASHIFT_SERVE_TOKEN; never logged."""
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as exc:
            fail(f"--token-file {token_file}: {exc.strerror}")
        if not token:
            fail(f"--token-file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


@click.command("serve")
@database_url_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="PATH",
              help=f"File holding the bearer token (default: ${TOKEN_ENV}).")  # fmt: skip
@click.option("--protect-reads", is_flag=True,
              help="The read endpoints (gates, status, metrics) need the token too.")  # fmt: skip
def serve_command(database_url: str | None, host: str, port: int, token_file: str | None,
                  protect_reads: bool) -> None:  # fmt: skip
    """Serve the contract and readiness gates, the deployment registry, the status
    document, Prometheus metrics and a live status page."""
    missing = [m for m in ("starlette", "uvicorn", "prometheus_client")
               if importlib.util.find_spec(m) is None]  # fmt: skip
    if missing:
        fail(f"schemashift serve needs {', '.join(missing)}: pip install 'schemashift[server]'")
    import uvicorn

    from schemashift.cli.common import warn
    from schemashift.execute.database import DatabaseError
    from schemashift.serve.app import ServeSettings, create_app

    config = load_config_for(database_url)
    url = database_url_for(database_url, config)
    token = _token(token_file)
    if token is None and protect_reads:
        fail(f"--protect-reads needs a token: set {TOKEN_ENV} or pass --token-file")
    try:
        app = create_app(ServeSettings(url, config, token, protect_reads))
    except DatabaseError as exc:
        fail(str(exc))
    if token is None:
        warn(f"no token ({TOKEN_ENV} or --token-file): recording and retiring deployments "
             "over HTTP is refused")  # fmt: skip
    click.echo(f"schemashift serve: http://{host}:{port}/ ({app.state.server.target.safe})",
               err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                date_header=False)  # fmt: skip
