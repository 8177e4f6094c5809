"""A request-counting, fault-injecting HTTP proxy between the functions and moto.

    python proxy.py --upstream http://127.0.0.1:5000 [--port 0] [--record DIR --function NAME]

Prints `LISTENING <port>` once it listens (port 0: the OS picks one).

Functions get AWS_ENDPOINT_URL=http://127.0.0.1:8001. Each AWS call is counted under
`service:Action` (service from the SigV4 credential scope; the action from X-Amz-Target, the
query protocol's Action parameter, or the smithy-rpc-v2 path; else `METHOD /path`).
Control paths:
- GET  /__proxy/health      readiness
- GET  /__proxy/calls       {"counts": {"sqs:ListQueues": 1}, "calls": [{"action", "status", "injected", "time"}],
                             "throttled": {"ec2:CreateRoute": 12}}
- POST /__proxy/rules       add a rule (JSON below); rules are tried in order, first match wins
- POST /__proxy/reset       forget calls and rules; realism and rates off (what it saw made stays known)
- POST /__proxy/realism     turn on rules of AWS behaviour moto lacks (see realism.py); off by default
- POST /__proxy/rates       turn on AWS's request-rate token buckets (see rates.py); off by default.
                            A throttled call is in `calls` with `"rate": code`; `throttled` counts them by action
A rule: {"action": "ec2:CreateRoute" or "*", "times": 2 (omit for always), "skip": 1 (let the
         first N matching calls through),
         "status": 400, "code": "RouteAlreadyExists", "message": "...",   -> an AWS error reply
         "delay_ms": 3000,                                                -> then forward (or fail)
         "reset": true}                                                   -> drop the connection
Error bodies follow the call's protocol: awsJson/restJson ({"__type"}), EC2 XML, query XML.
A call meets the test's rules first, then the rate model, then realism: a throttled call reaches neither
realism nor moto.
"""

import argparse
import http.client
import json
import re
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import iam_calls
from rates import Rates
from realism import Realism, query_params

_lock = threading.Lock()
_calls = []
_rules = []
UPSTREAM = None  # (host, port)
_realism = Realism()
_rates = Rates()

# Hop-by-hop headers are the proxy's own business.
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def action_of(method, path, headers, body):
    auth = headers.get("Authorization", "")
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = scope.group(1) if scope else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    rpc = re.match(r"^/service/[^/]+/operation/([^/?]+)", path)
    if rpc:
        return f"{service}:{rpc.group(1)}"
    query = urlsplit(path).query
    for source in (query, body.decode("utf-8", errors="replace") if body else ""):
        params = parse_qs(source)
        if "Action" in params:
            return f"{service}:{params['Action'][0]}"
    return f"{service}:{method} {urlsplit(path).path}"


def region_of(headers):
    scope = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    return scope.group(1) if scope else "us-east-1"


def error_reply(service, headers, code, message):
    request_id = str(uuid.uuid4())
    content_type = headers.get("Content-Type", "")
    if headers.get("X-Amz-Target") or "json" in content_type:
        body = json.dumps({"__type": code, "message": message}).encode()
        return body, {
            "Content-Type": content_type or "application/x-amz-json-1.1",
            "x-amzn-ErrorType": code,
            "x-amzn-query-error": f"{code};Sender",
            "x-amzn-RequestId": request_id,
        }
    if service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    return body, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}


def take_rule(action):
    with _lock:
        for rule in _rules:
            if rule.get("action") not in ("*", action):
                continue
            if rule.get("skip", 0) > 0:
                rule["skip"] -= 1
                continue
            if "times" in rule:
                if rule["times"] <= 0:
                    continue
                rule["times"] -= 1
            return dict(rule)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, body, headers):
        iam_calls.reply(self, status, body)  # --record: learns from AWS answers (AssumeRole keys)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _control(self, body):
        path = urlsplit(self.path).path
        if path == "/__proxy/health":
            return self._reply(200, b'{"ok": true}', {"Content-Type": "application/json"})
        if path == "/__proxy/calls":
            with _lock:
                counts, throttled = {}, {}
                for call in _calls:
                    counts[call["action"]] = counts.get(call["action"], 0) + 1
                    if call.get("rate"):
                        throttled[call["action"]] = throttled.get(call["action"], 0) + 1
                out = json.dumps({"counts": counts, "calls": _calls, "throttled": throttled}).encode()
            return self._reply(200, out, {"Content-Type": "application/json"})
        if path == "/__proxy/rules" and self.command == "POST":
            with _lock:
                _rules.append(json.loads(body))
            return self._reply(200, b"{}", {"Content-Type": "application/json"})
        if path == "/__proxy/reset" and self.command == "POST":
            with _lock:
                _calls.clear()
                _rules.clear()
            _realism.reset()
            _rates.reset()
            return self._reply(200, b"{}", {"Content-Type": "application/json"})
        if path == "/__proxy/realism" and self.command == "POST":
            _realism.configure(json.loads(body))
            return self._reply(200, b"{}", {"Content-Type": "application/json"})
        if path == "/__proxy/rates" and self.command == "POST":
            _rates.configure(json.loads(body or b"{}") or {})
            return self._reply(200, b"{}", {"Content-Type": "application/json"})
        return self._reply(404, b"{}", {"Content-Type": "application/json"})

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__proxy/"):
            return self._control(body)
        action = action_of(self.command, self.path, self.headers, body)
        iam_calls.request(self, action, body)  # --record: what IAM would be asked (see iam_calls.py)
        rule = take_rule(action)
        call = {"action": action, "injected": bool(rule), "time": time.time()}
        with _lock:
            _calls.append(call)
        if rule and rule.get("delay_ms"):
            time.sleep(rule["delay_ms"] / 1000)
        if rule and rule.get("reset"):
            call["status"] = "reset"
            # SO_LINGER 0: close with RST, as a dropped connection looks to the client.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        region = region_of(self.headers)
        params = query_params(urlsplit(self.path).query, body) if not self.headers.get("X-Amz-Target") else {}
        if not (rule and rule.get("status")):
            throttled = _rates.take(action, region, self.headers, params)
            if throttled:
                rule = {"status": throttled[0], "code": throttled[1], "message": throttled[2]}
                call["rate"] = throttled[1]
        if not (rule and rule.get("status")):
            realistic = _realism.before(action, region, params)
            if realistic:
                rule = {"status": realistic[0], "code": realistic[1], "message": realistic[2]}
                call["realism"] = realistic[1]
        if rule and rule.get("status"):
            service = action.split(":", 1)[0]
            out, headers = error_reply(service, self.headers, rule.get("code", "InternalError"), rule.get("message", "injected by the test proxy"))
            call["status"] = rule["status"]
            return self._reply(rule["status"], out, headers)
        upstream = http.client.HTTPConnection(*UPSTREAM, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            out = _realism.after(action, region, params, reply.status, reply.read())
            call["status"] = reply.status
            headers = {k: v for k, v in reply.getheaders() if k.lower() not in HOP | {"content-length"}}
            self._reply(reply.status, out, headers)
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def main():
    global UPSTREAM
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--record", help="directory for the IAM facts of each call (iam_calls.py)")
    parser.add_argument("--function", help="whose calls these are, with --record")
    args = parser.parse_args()
    iam_calls.configure(args.record, args.function)
    up = urlsplit(args.upstream)
    UPSTREAM = (up.hostname, up.port or 80)
    _rates.upstream = UPSTREAM
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
