"""A local HTTP receiver: stands in for CloudFormation's presigned S3 URL and for chat webhooks.

    python receiver.py [--port 0]

Prints `LISTENING <port>` once it listens (port 0: the OS picks one, so parallel tests never race
for a port).

Records every PUT and POST (method, path, query, headers, body, time) and answers 200, unless
told to fail. Control paths (not recorded):
- GET  /__health            readiness
- GET  /__received          {"requests": [...]}
- POST /__fail              {"count": 2, "status": 500}: the next `count` requests get `status`
- POST /__reset             forget requests and failures
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_lock = threading.Lock()
_received = []
_failures = {"count": 0, "status": 500}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read /__received instead
        pass

    def _reply(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/__health":
            return self._reply(200, b'{"ok": true}')
        if self.path == "/__received":
            with _lock:
                return self._reply(200, json.dumps({"requests": _received}).encode())
        return self._reply(404, b"{}")

    def _record(self):
        body = self._body()
        url = urlsplit(self.path)
        if url.path == "/__fail":
            spec = json.loads(body or b"{}")
            with _lock:
                _failures["count"] = int(spec.get("count", 1))
                _failures["status"] = int(spec.get("status", 500))
            return self._reply(200, b"{}")
        if url.path == "/__reset":
            with _lock:
                _received.clear()
                _failures["count"] = 0
            return self._reply(200, b"{}")
        with _lock:
            failing = _failures["count"] > 0
            if failing:
                _failures["count"] -= 1
            status = _failures["status"] if failing else 200
            _received.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": url.query,
                    "headers": {k: v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", errors="replace"),
                    "status": status,
                    "time": time.time(),
                }
            )
        self._reply(status, b"" if status == 200 else b"<Error><Code>InternalError</Code></Error>", "application/xml")

    do_PUT = _record
    do_POST = _record


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
