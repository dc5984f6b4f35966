"""The web app of ``zeronlp serve``: one page per loaded run and the JSON API the page calls.

Routes (every ``/api`` answer is JSON, errors too: ``{"error": "..."}`` with a 4xx status)::

    GET  /                          the page: a list of the runs
    GET  /runs/NAME                 the page of one run (what it shows depends on the run's kind)
    GET  /static/FILE               the page's own script and style sheet (shipped in the package)
    GET  /api/runs                  [{name, kind, actions, config, final, ...}]
    GET  /api/runs/NAME             one run's description
    POST /api/runs/NAME/ACTION      ACTION's answer; fields as a JSON object (or GET with ?query=fields)

The runs are the ones given at start-up; a request names a run by its name, never by a path, and
the static files are read into memory when the app is made, so no request can make the server read
a file. Request bodies are capped (:data:`MAX_BODY`), every input is bounded (:mod:`.runs`), the
``Host`` header must name the address the server is bound to (a web page elsewhere cannot reach it
through DNS rebinding), and the page's Content-Security-Policy allows nothing from the network.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..errors import UsageError, ZeronlpError
from ..progress import logger
from .runs import Run

MAX_BODY = 16 * 1024  # bytes of a request body
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                 b"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
INSTALL_HINT = "pip install 'zeronlp[serve]'"


def starlette_modules() -> dict[str, Any]:
    """Starlette's pieces this app uses; a :class:`UsageError` naming the extra when it is missing."""
    try:
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route
    except ImportError:
        raise UsageError(f"`zeronlp serve` needs Starlette and uvicorn: {INSTALL_HINT}") from None
    return {"Starlette": Starlette, "HTTPException": HTTPException, "Request": Request, "JSONResponse": JSONResponse,
            "Response": Response, "Route": Route}


def static_files() -> dict[str, tuple[bytes, str]]:
    """``{file name: (content, media type)}`` of the shipped page, read once."""
    folder = resources.files(__package__) / "static"
    files = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in STATIC_TYPES:
            files[item.name] = (item.read_bytes(), STATIC_TYPES[suffix])
    return files


class HttpError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Guard:
    """ASGI middleware: refuses foreign ``Host`` headers and oversized bodies, adds the security headers."""

    def __init__(self, app: Any, allowed_hosts: tuple[str, ...] | None, max_body: int):
        self.app, self.allowed_hosts, self.max_body = app, allowed_hosts, max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.allowed_hosts is not None and hostname not in self.allowed_hosts:
            await _send_json(send, 400, {"error": f"host {host!r} is not served here"})
            return
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            await _send_json(send, 413, {"error": f"the request body is larger than {self.max_body} bytes"})
            return
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HttpError(413, f"the request body is larger than {self.max_body} bytes")
            return message

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *SECURITY_HEADERS])
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": data})


def create_app(runs: dict[str, Run], allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS,
               max_body: int = MAX_BODY) -> Any:
    """The ASGI app serving ``runs`` (from :func:`~zeronlp.serve.runs.load_runs`).

    ``allowed_hosts``: the names a request's ``Host`` header may give (None: any, for a server bound
    to all interfaces on purpose).
    """
    s = starlette_modules()
    JSONResponse, Response = s["JSONResponse"], s["Response"]  # noqa: N806 (classes)
    files = static_files()

    def page(request: Any) -> Any:
        name = request.path_params.get("name")
        if name is not None and name not in runs:
            raise HttpError(404, f"no run named {name!r}")
        return Response(files["index.html"][0], media_type=files["index.html"][1])

    def static(request: Any) -> Any:
        name = request.path_params["file"]
        if name not in files:
            raise HttpError(404, f"no static file {name!r}")
        content, media_type = files[name]
        return Response(content, media_type=media_type)

    def list_runs(request: Any) -> Any:
        return JSONResponse({"runs": [run.info() for run in runs.values()]})

    def _run(request: Any) -> Run:
        name = request.path_params["name"]
        if name not in runs:
            raise HttpError(404, f"no run named {name!r}; the runs are {', '.join(runs)}")
        return runs[name]

    def describe(request: Any) -> Any:
        return JSONResponse(_run(request).info())

    async def action(request: Any) -> Any:
        run = _run(request)
        name = request.path_params["action"]
        if name not in run.actions:
            raise HttpError(404, f"a {run.kind} run has no action {name!r}; it has {', '.join(run.actions)}")
        params = dict(request.query_params) if request.method == "GET" else await _json_body(request)
        # the models run in a worker thread, so a slow request does not stop the server answering others
        result = await _run_in_thread(run.call, name, params)
        return JSONResponse(result)

    async def http_error(request: Any, exc: HttpError) -> Any:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def user_error(request: Any, exc: ZeronlpError) -> Any:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def starlette_error(request: Any, exc: Any) -> Any:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    async def server_error(request: Any, exc: Exception) -> Any:
        logger.error(f"zeronlp serve: {request.method} {request.url.path} failed", exc_info=exc)
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the server's log"}, status_code=500)

    Route = s["Route"]  # noqa: N806 (a class)
    routes = [
        Route("/", page), Route("/runs/{name}", page), Route("/static/{file}", static),
        Route("/api/runs", list_runs), Route("/api/runs/{name}", describe),
        Route("/api/runs/{name}/{action}", action, methods=["GET", "POST"]),
    ]
    app = s["Starlette"](routes=routes, exception_handlers={
        HttpError: http_error, ZeronlpError: user_error, s["HTTPException"]: starlette_error, Exception: server_error})
    return Guard(app, allowed_hosts, max_body)


async def _json_body(request: Any) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    body = await request.body()
    if not body:
        return {}
    if content_type != "application/json":
        raise HttpError(415, "send the fields as a JSON object (Content-Type: application/json)")
    try:
        params = json.loads(body)
    except (ValueError, RecursionError):
        raise HttpError(400, "the request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise HttpError(400, "the request body must be a JSON object of fields")
    return params


async def _run_in_thread(function: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)
