"""``zeronlp serve``: a local web page to explore trained runs, and its JSON API.

:func:`load_runs` loads the runs given at start-up (:mod:`.runs`: what each kind of run answers),
:func:`create_app` makes the ASGI app (:mod:`.app`: routes, limits, errors as JSON), :func:`serve`
runs it with uvicorn. Starlette and uvicorn are the ``serve`` extra: ``pip install 'zeronlp[serve]'``.
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..progress import logger
from .app import INSTALL_HINT, LOOPBACK_HOSTS, MAX_BODY, create_app
from .runs import KINDS, Run, detect_kind, load_run, load_runs

__all__ = ["serve", "create_app", "load_runs", "load_run", "detect_kind", "Run", "KINDS", "MAX_BODY"]


def allowed_hosts(host: str) -> tuple[str, ...] | None:
    """The ``Host`` headers a server bound to ``host`` accepts: loopback names, plus ``host`` itself;
    any for the wildcard addresses (the user asked to be reachable under any name)."""
    if host in ("0.0.0.0", "::", ""):
        return None
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, host, f"[{host}]" if ":" in host else host]))


def make_server(runs: dict[str, Run], host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> Any:
    """A ``uvicorn.Server`` for ``runs`` (not started: call ``.run()``, or set ``.should_exit`` to stop it)."""
    try:
        import uvicorn
    except ImportError:
        raise UsageError(f"`zeronlp serve` needs Starlette and uvicorn: {INSTALL_HINT}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    app = create_app(runs, allowed_hosts=allowed_hosts(host))
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, limit_concurrency=64,
                            timeout_keep_alive=5, server_header=False, h11_max_incomplete_event_size=MAX_BODY)
    return uvicorn.Server(config)


def serve(run_specs: list[str], host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Load the runs (``DIR`` or ``NAME=DIR``) and serve them at ``http://host:port/`` until Ctrl-C."""
    runs = load_runs(run_specs)
    server = make_server(runs, host, port, log_level)
    if allowed_hosts(host) is None or host not in LOOPBACK_HOSTS:
        logger.warning(f"serving on {host}: other machines on the network can reach these pages (no login)")
    shown = f"[{host}]" if ":" in host else host
    for run in runs.values():
        print(f"  {run.kind:<10} http://{shown}:{port}/runs/{run.name}   ({run.path})")
    print(f"zeronlp serve: {len(runs)} run{'s' if len(runs) != 1 else ''} at http://{shown}:{port}/ "
          "(Ctrl-C stops)", flush=True)
    server.run()
