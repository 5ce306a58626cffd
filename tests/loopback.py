"""A real HTTP server on 127.0.0.1 (a free port, a thread) that serves files and injects faults.

It stands in for BrainChip's servers: the tests point ``data.url`` / ``extractor.url`` at it and
count, per file, the requests it received. Faults are queued per file name and each is used by
one request, in order; once the queue is empty the file is served normally:

- ``"500"``: an Internal Server Error instead of the file;
- ``"drop"``: the headers announce the whole file, half of it is sent, then the connection closes;
- ``"slow"``: nothing is sent for :attr:`Loopback.slow_seconds`, then the file (a client with a
  shorter timeout has given up by then).

Files in subfolders are served under their relative path (``a/kws.pkl``); a file that is not
in the served folder gets a 404.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit


class Loopback:
    def __init__(self, root: Path):
        self.root = root
        self.requests: Counter[str] = Counter()
        self.faults: dict[str, list[str]] = {}
        self.slow_seconds = 3.0
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # a client that gave up is not an error here
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{name}"

    def start(self) -> "Loopback":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self, name: str) -> str | None:
        with self._lock:
            self.requests[name] += 1
            queue = self.faults.get(name) or []
            return queue.pop(0) if queue else None

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                name = urlsplit(self.path).path.lstrip("/")
                fault = server._next(name)
                path = server.root / name
                if fault == "500":
                    self.send_error(500, "injected fault")
                    return
                if not path.resolve().is_relative_to(server.root.resolve()) or not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "drop":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        return Handler
