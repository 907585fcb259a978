"""``zhongshu connector new`` writes a plugin that installs, is discovered through its entry point,
and passes the acceptance kit out of the box."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from connectors.registry import list_connectors
from connectors.scaffold import ScaffoldError, scaffold
from mappings import load_rules
from hub.cli_connectors import connector_app, connectors_app, sandbox_command

PY = sys.executable


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(connectors_app, name="connectors")
    app.add_typer(connector_app, name="connector")
    app.command("sandbox")(sandbox_command)
    return app


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    name = f"kit_{uuid.uuid4().hex[:6]}"
    target = tmp_path_factory.mktemp("plugins")
    result = CliRunner().invoke(cli(), ["connector", "new", name, "--dir", str(target)])
    assert result.exit_code == 0, result.output
    project = target / f"zhongshu-{name.replace('_', '-')}"
    install = subprocess.run([PY, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e",
                              str(project)], capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stderr
    try:
        yield name, project
    finally:
        subprocess.run([PY, "-m", "pip", "uninstall", "-y", "-q", f"zhongshu-{name.replace('_', '-')}"],
                       capture_output=True, text=True, timeout=120)


def test_the_plugin_is_listed_through_its_entry_point(plugin: tuple[str, Path]) -> None:
    name, _ = plugin
    rows = {row.name: row for row in list_connectors()}
    class_name = "".join(part.capitalize() for part in name.split("_")) + "Connector"
    assert rows[name].origin == "plugin" and rows[name].target == f"zhongshu_{name}:{class_name}"
    # a fresh interpreter (as `zhongshu connectors list` would be) imports it and sees its capabilities
    probe = ("from connectors.registry import list_connectors\n"
             f"row = next(r for r in list_connectors() if r.name == {name!r})\n"
             "print(row.error or ','.join(sorted(row.capabilities)))")
    out = subprocess.run([PY, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "list_orders,poll,push,read_stock,write_stock", out.stderr
    mount = ("import typer\nfrom hub.cli_connectors import connectors_app, connector_app\n"
             "app = typer.Typer()\napp.add_typer(connectors_app, name='connectors')\n"
             "app.add_typer(connector_app, name='connector')\napp()")
    listed = subprocess.run([PY, "-c", mount, "connectors", "list"],
                            capture_output=True, text=True, timeout=60, env={"COLUMNS": "250", "PATH": ""})
    assert name in listed.stdout and "plugin" in listed.stdout, listed.stderr


def test_the_generated_tests_pass_the_acceptance_kit(plugin: tuple[str, Path]) -> None:
    _, project = plugin
    run = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_the_generated_mapping_loads_and_maps_a_pushed_order(plugin: tuple[str, Path]) -> None:
    name, project = plugin
    book = load_rules(project / f"zhongshu_{name}" / "mappings", strict=True)
    payload = {"id": 1001, "status": "open", "updated_at": 1777600700, "lines": [{"sku": "SKU-A", "quantity": 2}]}
    result = book.apply(name, "order.created", payload, raw_event_id=1, received_at=datetime.now(UTC))
    assert not result.errors and [(line.sku, line.qty) for line in result.orders[0].lines] == [("SKU-A", 2)]


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="connector name must match"):
        scaffold("Bad-Name", tmp_path)
    scaffold("twice", tmp_path)
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold("twice", tmp_path)
    result = CliRunner().invoke(cli(), ["connector", "new", "Bad-Name", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "connector name must match" in result.output


def test_sandbox_command_refuses_an_unknown_connector() -> None:
    result = CliRunner().invoke(cli(), ["sandbox", "no-such-connector", "--port", "0"])
    assert result.exit_code == 2 and "unknown connector 'no-such-connector'" in result.output
