"""moto in server mode as a process of its own: the local stand-in for AWS.

The local stack (infra/stack.py) runs it apart from the workers and the ad server so that a
worker can die, or moto can be paused, without taking the others with it.

    python -m infra.local_moto --port 4566 --ready-file .local/run/moto.ready
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from infra.local_lambda import exit_with_parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0: any free port")
    parser.add_argument("--ready-file", type=Path, help="written with the endpoint once listening")
    args = parser.parse_args(argv)
    exit_with_parent()  # AWS does not outlive the stack that stands in for it
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    try:
        server = make_server(
            args.host,
            args.port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
        )
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        print(f"moto: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = str(server.server_address[0]), int(server.server_address[1])
    signal.signal(signal.SIGTERM, _interrupt)
    if args.ready_file is not None:
        args.ready_file.write_text(json.dumps({"endpoint_url": f"http://{host}:{port}"}))
    print(f"moto listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
