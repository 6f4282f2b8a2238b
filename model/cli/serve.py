"""`aibubble viz`: serve the interactive page (model/page/app.py) with Solara.

The page is served by `solara run aibubble.page.app` in a child process; the scenario reaches the page
through the environment variable AIBUBBLE_VIZ_SCENARIO. The server binds to loopback unless
--host says otherwise, and another address must be confirmed (`--expose`, or yes at the
prompt on a terminal): the page runs simulations for anyone who reaches it. It never phones
home (no version check, no telemetry) and needs no internet access: the browser assets come
from the solara-assets package.

Also runnable without the console script: `python -m aibubble.cli.serve --port 8766`.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import signal
import subprocess
import sys
from typing import Any

import click

from aibubble.cli.errors import OneLineCommand, UserError
from aibubble.config import ConfigError, load_config

SCENARIO_ENV = "AIBUBBLE_VIZ_SCENARIO"  # read by model/page/viz_model.py
APP_MODULE = "aibubble.page.app"


def solara_command(host: str, port: int) -> list[str]:
    """The `solara run` command line for the page."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--no-open",
        "--production",
        "--no-check-version",
    ]


def server_environment(scenario: str) -> dict[str, str]:
    env = dict(os.environ)
    env[SCENARIO_ENV] = scenario
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"  # offline and private by default
    env.setdefault("MPLBACKEND", "Agg")  # no window if anything on the server draws with matplotlib
    # Solara warns on every plain-http loopback page load that it cannot set SameSite=None.
    quiet = "ignore:Cookies with samesite=none require https:UserWarning"
    env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS"), quiet) if w)
    return env


def missing_packages() -> list[str]:
    """Packages of the `viz` extra that are not installed."""
    needed = {"solara": "solara", "solara_assets": "solara[assets]", "altair": "mesa[viz]"}
    return [name for module, name in needed.items() if importlib.util.find_spec(module) is None]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("viz", cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback exposes the page to your network (needs --expose).",
)
@click.option(
    "--expose",
    is_flag=True,
    help="Confirm listening on an address other than loopback (asked on a terminal otherwise).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="TCP port to listen on.",
)
@click.option(
    "--scenario",
    default="baseline",
    show_default=True,
    help="Scenario the page starts with: a name from config/ or a YAML file (switchable on the page).",
)
def viz(host: str, expose: bool, port: int, scenario: str) -> None:
    """Serve the interactive page: sliders, live plots and a "Discover now" button.

    Open the printed address in a browser; stop with Ctrl-C.
    """
    try:
        load_config(scenario)  # fail here, in one line, rather than on a blank page
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if not _is_loopback(host) and not expose:
        risk = f"--host {host}: anyone who can reach this machine can use the page"
        if not (sys.stdin.isatty() and click.confirm(f"{risk}. Listen there?", default=False, err=True)):
            raise UserError(f"{risk}; add --expose to confirm")
    missing = missing_packages()
    if missing:
        raise click.ClickException(
            f"the page needs {', '.join(missing)}: pip install 'aibubble[viz]' (see setup.cfg)"
        )
    if not _is_loopback(host):
        click.echo(
            f"warning: listening on {host}: anyone who can reach this machine can use the page",
            err=True,
        )
    click.echo(f"aibubble viz: scenario {scenario} at http://{host}:{port}  (Ctrl-C stops)", err=True)
    proc = subprocess.Popen(solara_command(host, port), env=server_environment(scenario))

    def forward(signum: int, _frame: Any) -> None:
        proc.send_signal(signum)  # the server shuts down cleanly; we wait for it below

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:
            proc.kill()
    if code not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise click.ClickException(f"the Solara server stopped with exit code {code}")


if __name__ == "__main__":
    viz()
