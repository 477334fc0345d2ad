#!/usr/bin/env python3
"""Second app: a departure board, Stagecoach's second example (not the sample). Python 3 stdlib only.

Environment:
  APP_MODE          publish | author (Stagecoach sets it per node; default publish)
  STAGECOACH_NODE   the node this container is, e.g. publish-2 (Stagecoach sets it; shown by the health path)
  PORT              listening port (Stagecoach sets it from app.port; default 9000)
  APP_VERSION_FILE  the VERSION file (default /srv/board/VERSION)
"""
import html
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEPARTURES = [("09:15", "Dodge City"), ("11:40", "Tombstone"), ("16:05", "Deadwood")]


def read_version(path=None):
    path = path or os.environ.get("APP_VERSION_FILE", "/srv/board/VERSION")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


def board_page(version, mode):
    rows = "".join("<tr><td>%s</td><td>%s</td></tr>" % (html.escape(t), html.escape(d)) for t, d in DEPARTURES)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Departures</title></head>\n'
        "<body><h1>Departures</h1><table>%s</table>\n<p>board %s (%s)</p></body></html>\n"
    ) % (rows, html.escape(version), html.escape(mode))


def route(path, version, mode, node="local"):
    """(status, content type, body) for a path: the board, its health (naming the node that answered), or 404."""
    if path == "/":
        return 200, "text/html; charset=utf-8", board_page(version, mode)
    if path == "/healthz":
        health = {"status": "ok", "version": version, "mode": mode, "node": node}
        return 200, "application/json", json.dumps(health) + "\n"
    return 404, "text/plain; charset=utf-8", "not found\n"


def make_handler(version, mode, node="local"):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "board"
        sys_version = ""

        def do_GET(self):
            status, content_type, body = route(self.path.split("?", 1)[0], version, mode, node)
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            # The board changes rarely: the dispatcher may cache it for a minute; health never.
            self.send_header("Cache-Control", "public, max-age=60" if self.path == "/" else "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    return Handler


def main():
    env = os.environ
    handler = make_handler(read_version(), env.get("APP_MODE", "publish"), env.get("STAGECOACH_NODE", "local"))
    server = ThreadingHTTPServer(("0.0.0.0", int(env.get("PORT", "9000"))), handler)
    # shutdown() waits for serve_forever to return, so it cannot run in the signal handler's own (main) thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
