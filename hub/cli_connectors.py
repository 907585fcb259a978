"""``zhongshu connectors list``, ``zhongshu connector new NAME``, ``zhongshu sandbox NAME``.

Mounted by ``hub/cli.py``::

    app.add_typer(connectors_app, name="connectors")
    app.add_typer(connector_app, name="connector")
    app.command("sandbox")(sandbox_command)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["connector_app", "connectors_app", "sandbox_command"]

connectors_app = typer.Typer(help="Installed connectors (built-ins and plugins).", no_args_is_help=True)
connector_app = typer.Typer(help="Write a new connector plugin.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@connectors_app.command("list")
def list_command() -> None:
    """Every connector with where it comes from and what it can do."""
    from connectors.registry import list_connectors

    table = Table(title="Zhongshu connectors")
    for column in ("name", "origin", "capabilities", "target"):
        table.add_column(column)
    for info in list_connectors():
        caps = ", ".join(sorted(info.capabilities)) if info.capabilities is not None else f"[red]{info.error}[/red]"
        table.add_row(info.name, info.origin, caps, info.target)
    out.print(table)


@connector_app.command("new")
def new_command(
    name: Annotated[str, typer.Argument(help="Connector name: lower case, digits and _ (e.g. acme).")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to create zhongshu-NAME/.")] = Path("."),
) -> None:
    """Scaffold a plugin package (connector YAML, mapping, sandbox, acceptance tests) that passes the kit."""
    from connectors.scaffold import ScaffoldError, scaffold

    try:
        project = scaffold(name, directory)
    except ScaffoldError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    out.print(f"created {project}\n  pip install -e {project}\n  cd {project} && pytest")


def sandbox_command(
    name: Annotated[str, typer.Argument(help="Registered connector name, e.g. meituan.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 0,
    app_key: Annotated[str, typer.Option(help="The sandbox's app key / app id.")] = "sandbox-key",
    app_secret: Annotated[str, typer.Option(help="The sandbox's signing secret.")] = "sandbox-secret",
    access_token: Annotated[str, typer.Option(help="Token the sandbox accepts, where the platform uses one.")] = (
        "sandbox-token"),
    hub_url: Annotated[str | None, typer.Option(help="Where the sandbox pushes signed events (loopback).")] = None,
) -> None:
    """Serve a connector's sandbox on 127.0.0.1 until interrupted."""
    import uvicorn

    from connectors.registry import RegistryError, load, load_object

    try:
        cls = load(name)
        if not cls.sandbox_app:
            raise RegistryError(f"connector {name!r} has no sandbox")
        factory = load_object(cls.sandbox_app)
        offered = {"app_key": app_key, "app_secret": app_secret, "access_token": access_token, "hub_url": hub_url}
        params = inspect.signature(factory).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        app = factory(**{k: v for k, v in offered.items() if takes_all or k in params})
    except (RegistryError, TypeError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    err.print(f"{name} sandbox on http://127.0.0.1:{port or '<free port>'}  (operator API under /_sandbox/)")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
