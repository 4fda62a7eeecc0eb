"""Serve the ad server's Lambda handler on localhost, the way API Gateway's HTTP API would.

Each plain HTTP request becomes an HTTP API payload-format-2.0 event for the same handler
named in template.yaml; the handler's response dict becomes the HTTP response.

The server reads and writes connections on many threads but invokes the handler one request
at a time, as one Lambda container does. Handlers are written for that contract: Powertools
keeps the request being resolved in a class attribute (``BaseRouter.current_event``) shared by
every resolver in the process, and boto3 resources are not thread-safe, so neither a shared
resolver nor one resolver per thread could serve two requests at once correctly.

    python -m adserver.local_server --port 8080

Given the local stack's outputs (``--outputs``), ``GET /`` lists every dashboard and player
with the stack's tokens filled in; a deployed server's front page never holds a token.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from adserver.index_page import index_html, local_links
from infra.local_lambda import Handler, LocalLambdaContext, exit_with_parent, import_handler

DEFAULT_HANDLER = "adserver.handler.lambda_handler"
UNVERIFIED_UPLOADS_NOTICE = (
    "ad server (local): camera uploads go to moto, which checks no signature, expiry, "
    "size or content type of a presigned upload; only S3 enforces the upload policy"
)
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def http_api_event(
    method: str,
    target: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event for a request line and headers."""
    url = urlsplit(target)
    lowered: dict[str, str] = {}
    for name, value in (headers or {}).items():  # API Gateway joins repeated headers with ","
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if query:
        event["queryStringParameters"] = query
    if lowered.get("cookie"):
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    if body:
        try:
            event["body"] = body.decode() if is_text else base64.b64encode(body).decode()
        except UnicodeDecodeError:  # "text" that is not UTF-8 travels base64-encoded
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def response_parts(response: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body bytes of a Lambda proxy response (format 2.0)."""
    status = int(response.get("statusCode", 200))
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
    return status, headers, body


def local_index(outputs_path: Path, port: int) -> str | None:
    """The front page with the local stack's tokens, from its outputs; None while they are
    not written yet, or were written by a stack whose ad server is not this one."""
    try:
        outputs = json.loads(outputs_path.read_text())
    except (OSError, ValueError):
        return None
    if not str(outputs.get("adserver_url", "")).endswith(f":{port}"):
        return None
    return index_html(local_links(outputs), local=True)


def make_request_handler(
    handler: Handler, timeout_s: float, outputs_path: Path | None = None
) -> type[BaseHTTPRequestHandler]:
    """A request handler class that invokes ``handler`` like API Gateway, one call at a time;
    with the local stack's ``outputs_path``, ``GET /`` is its front page with tokens."""
    # One container: the handler sees one invocation at a time (see the module docstring).
    container = threading.Lock()

    class LambdaProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _invoke(self) -> None:
            if self.command == "GET" and self.path == "/" and outputs_path is not None:
                port = cast(ThreadingHTTPServer, self.server).server_port
                page = local_index(outputs_path, port)
                if page is not None:
                    html = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
                    self._send(200, html, page.encode())
                    return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            event = http_api_event(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            try:
                with container:  # the function's timeout starts when it is invoked
                    context = LocalLambdaContext("adserver", timeout_s=timeout_s)
                    status, headers, payload = response_parts(handler(event, context))
            except Exception:  # API Gateway answers a bare 500 when the function fails
                traceback.print_exc()
                status, headers = 500, {"Content-Type": "application/json"}
                payload = json.dumps({"message": "Internal Server Error"}).encode()
            self._send(status, headers, payload)

        def _send(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _invoke

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY...) goes to the resolver too, as behind
            # API Gateway's ANY route, instead of http.server's own 501 page.
            if name.startswith("do_"):
                return self._invoke
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return LambdaProxy


def serve(
    host: str,
    port: int,
    handler_path: str,
    timeout_s: float,
    ready_file: Path | None,
    outputs_path: Path | None = None,
) -> None:
    handler = import_handler(handler_path)
    server = ThreadingHTTPServer(
        (host, port), make_request_handler(handler, timeout_s, outputs_path)
    )
    server.daemon_threads = True
    print(UNVERIFIED_UPLOADS_NOTICE, file=sys.stderr, flush=True)
    if ready_file is not None:
        ready_file.write_text(json.dumps({"url": f"http://{host}:{server.server_port}"}))
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adserver.local_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--handler", default=DEFAULT_HANDLER, help="module.function to invoke")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="the function's Timeout")
    parser.add_argument("--ready-file", type=Path, help="written with the URL once listening")
    parser.add_argument(
        "--outputs", type=Path, help="the local stack's outputs: GET / links its pages with tokens"
    )
    args = parser.parse_args(argv)
    exit_with_parent()
    try:
        serve(args.host, args.port, args.handler, args.timeout_s, args.ready_file, args.outputs)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"ad server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
