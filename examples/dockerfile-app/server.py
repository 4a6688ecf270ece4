"""A Dockerfile app: answers every GET with a greeting and the time."""

import datetime
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"Hello from a Dockerfile app at {datetime.datetime.now():%H:%M:%S}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    # In a container the app must be reachable from outside it; dev sets HOST=127.0.0.1.
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104
    address = (host, int(os.environ.get("PORT", "8080")))
    ThreadingHTTPServer(address, Handler).serve_forever()
