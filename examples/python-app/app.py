"""A Python app without a Dockerfile: the forge detects requirements.txt and the Procfile."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VISITS = {"count": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply has a Content-Length
    disable_nagle_algorithm = True  # the head and the body go out as two writes

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"status": "ok"})
            return
        VISITS["count"] += 1
        self._reply(
            200,
            {
                "message": "Hello from Python",
                "visits": VISITS["count"],
                # Set by the platform: which release and which instance answered.
                "release": os.environ.get("PAASTECH_RELEASE", ""),
                "instance": os.environ.get("NOMAD_ALLOC_ID", "")[:8],
            },
        )

    def _reply(self, status: int, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 refuses connections under a burst


if __name__ == "__main__":
    # In a container the app must be reachable from outside it; dev sets HOST=127.0.0.1.
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104
    address = (host, int(os.environ.get("PORT", "8080")))
    print(f"listening on {address[0]}:{address[1]}", flush=True)
    Server(address, Handler).serve_forever()
