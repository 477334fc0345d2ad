"""Unit tests of the board (run in the Dockerfile's `checks` target, under coverage)."""
import json
import os
import sys
import threading
import unittest
import urllib.request
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "app"))
import board  # noqa: E402


class BoardTest(unittest.TestCase):
    def test_home_lists_departures_and_version(self):
        status, content_type, body = board.route("/", "1.2.3", "publish")
        self.assertEqual(status, 200)
        self.assertIn("text/html", content_type)
        self.assertIn("Tombstone", body)
        self.assertIn("board 1.2.3", body)

    def test_health_is_json(self):
        status, _, body = board.route("/healthz", "1.2.3", "author", "author")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok", "version": "1.2.3", "mode": "author", "node": "author"})

    def test_unknown_path_is_404(self):
        self.assertEqual(board.route("/nope", "1", "publish")[0], 404)

    def test_names_are_escaped(self):
        self.assertNotIn("<script>", board.board_page("<script>", "publish"))

    def test_missing_version_file(self):
        self.assertEqual(board.read_version("/nonexistent/VERSION"), "unknown")


class ServerTest(unittest.TestCase):
    def test_serves_health_and_caches_only_the_board(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), board.make_handler("2.0.0", "publish"))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d" % server.server_address[1]
        try:
            with urllib.request.urlopen(base + "/healthz") as res:
                self.assertEqual(json.loads(res.read())["version"], "2.0.0")
                self.assertEqual(res.headers["Cache-Control"], "no-store")
            with urllib.request.urlopen(base + "/") as res:
                self.assertEqual(res.headers["Cache-Control"], "public, max-age=60")
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main()
