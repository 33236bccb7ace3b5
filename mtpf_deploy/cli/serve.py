"""``serve`` (the system process as a local service) and ``apps`` (who may call it, and with which adapters)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import MtpfError
from .options import friendly, settings_options


def _serve_config():
    from ..serve.config import ServeConfig

    return ServeConfig


@click.command("serve")
@friendly
@settings_options(_serve_config())
def serve_cmd(cfg) -> None:
    """System side: serve the bundle to many apps over HTTP on loopback (or a Unix socket), batching requests of
    any adapters into one pass. Needs `pip install 'mtpf-deploy[serve]'`; docs/serving.md."""
    import logging

    try:
        import uvicorn

        from ..serve.app import build_app
        from ..serve.peercred import PeerCredProtocol
    except ImportError as exc:
        raise MtpfError(f"serve needs `pip install 'mtpf-deploy[serve]'` ({exc.name} is missing)") from None
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app = build_app(cfg)
    where = f"unix:{cfg.unix_socket}" if cfg.unix_socket else f"http://{cfg.host}:{cfg.port}"
    click.echo(json.dumps({"event": "serving", "bundle": cfg.bundle, "at": where, "state": cfg.state,
                           "row_adapters": bool(getattr(app.state.service.system.engine, "row_adapters", False))}), err=True)
    config = uvicorn.Config(app, host=cfg.host, port=cfg.port, uds=cfg.unix_socket, http=PeerCredProtocol,
                            log_level="warning", timeout_graceful_shutdown=cfg.drain_s, access_log=False)
    uvicorn.Server(config).run()


@click.group("apps")
def apps_group() -> None:
    """System side: register the apps a `serve` answers and grant them the bundle's adapters (STATE/registry.json;
    a running service sees changes at once)."""


def _state_option(fn):
    return click.option("--state", default="serve_state", show_default=True, type=click.Path(file_okay=False, path_type=Path),
                        help="the service's state folder (serve --state)")(fn)


def _registry(state: Path):
    from ..serve.registry import Registry

    return Registry(state)


@apps_group.command("add")
@click.argument("app")
@click.option("--uid", type=click.IntRange(0), default=None, help="the Unix uid that identifies the app on a Unix socket")
@click.option("--no-token", is_flag=True, help="no token: the app is identified by --uid only")
@_state_option
@friendly
def apps_add(app: str, uid: int | None, no_token: bool, state: Path) -> None:
    """Register APP; prints its token once (only its sha256 is stored)."""
    token = _registry(state).add_app(app, uid, token=not no_token)
    click.echo(json.dumps({"app": app, "uid": uid, "token": token}))


@apps_group.command("token")
@click.argument("app")
@_state_option
@friendly
def apps_token(app: str, state: Path) -> None:
    """Give APP a new token (the old one stops working); prints it once."""
    click.echo(json.dumps({"app": app, "token": _registry(state).new_token(app)}))


@apps_group.command("grant")
@click.argument("app")
@click.argument("adapters", nargs=-1, required=True)
@_state_option
@friendly
def apps_grant(app: str, adapters: tuple[str, ...], state: Path) -> None:
    """Let APP use these adapters of the bundle ('*': all of them)."""
    _registry(state).grant(app, list(adapters))


@apps_group.command("revoke")
@click.argument("app")
@click.argument("adapters", nargs=-1, required=True)
@_state_option
@friendly
def apps_revoke(app: str, adapters: tuple[str, ...], state: Path) -> None:
    """Take these adapters back from APP."""
    _registry(state).revoke(app, list(adapters))


@apps_group.command("remove")
@click.argument("app")
@_state_option
@friendly
def apps_remove(app: str, state: Path) -> None:
    """Forget APP (its token, uid and grants; its uploaded files stay until removed by hand)."""
    _registry(state).remove_app(app)


@apps_group.command("list")
@_state_option
@friendly
def apps_list(state: Path) -> None:
    """One JSON line per app: uid, grants, uploads (never a token)."""
    for app in _registry(state).apps().values():
        click.echo(json.dumps({"app": app.id, "uid": app.uid, "token": app.token_sha256 is not None,
                               "grants": app.grants, "uploads": sorted(app.uploads)}))
