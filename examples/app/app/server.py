#!/usr/bin/env python3
"""Stagecoach sample app: a tiny publish/author web server (Python 3 stdlib only).

Environment:
  APP_MODE          publish | author (default publish)
  PORT              listening port (default 8080)
  APP_VERSION_FILE  path of the VERSION file (default /app/VERSION)
"""
import html
import json
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGES = {
    "/": "Home",
    "/about": "About",
    "/products": "Products",
}


def read_version(path=None):
    path = path or os.environ.get("APP_VERSION_FILE", "/app/VERSION")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


def render_page(title, mode, version):
    heading = "Author" if mode == "author" else "Publish"
    v = html.escape(version, quote=True)
    links = " | ".join('<a href="%s">%s</a>' % (p, t) for p, t in PAGES.items())
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<title>%s - Stagecoach sample (%s)</title></head>\n"
        '<body data-version="%s" data-mode="%s">\n'
        "<h1>%s</h1>\n<h2>%s</h2>\n<nav>%s</nav>\n"
        "<p>Mode: %s, version %s</p>\n"
        "</body></html>\n"
    ) % (title, mode, v, mode, heading, title, links, mode, v)


def make_handler(mode, version):
    class Handler(BaseHTTPRequestHandler):
        server_version = "stagecoach-sample"

        def version_string(self):
            return self.server_version
        protocol_version = "HTTP/1.1"

        def _send(self, status, body, content_type, cache_control):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", cache_control)
            self.send_header("X-App-Version", version)
            self.send_header("X-App-Mode", mode)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _handle(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                body = json.dumps({"status": "ok", "mode": mode, "version": version})
                self._send(200, body, "application/json", "no-store")
            elif path in PAGES:
                cc = "no-store" if mode == "author" else "public, max-age=300"
                self._send(200, render_page(PAGES[path], mode, version),
                           "text/html; charset=utf-8", cc)
            else:
                self._send(404, "not found\n", "text/plain; charset=utf-8", "no-store")

        do_GET = _handle
        do_HEAD = _handle

        def log_message(self, fmt, *args):
            sys.stdout.write("%s %s %s\n" % (
                datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                self.address_string(), fmt % args))
            sys.stdout.flush()

    return Handler


def make_server(port=None, mode=None, version=None, host="0.0.0.0"):
    mode = mode or os.environ.get("APP_MODE", "publish")
    if mode not in ("publish", "author"):
        raise ValueError("APP_MODE must be publish or author, got %r" % mode)
    version = version or read_version()
    port = int(os.environ.get("PORT", "8080")) if port is None else port
    server = ThreadingHTTPServer((host, port), make_handler(mode, version))
    server.daemon_threads = True
    server.app_mode = mode
    server.app_version = version
    return server


def main():
    server = make_server()

    def stop(signum, _frame):
        print("received signal %d, exiting" % signum, flush=True)
        # shutdown() blocks until serve_forever returns: call it from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print("stagecoach sample app listening on %s:%d (mode=%s, version=%s)" % (
        host, port, server.app_mode, server.app_version), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
