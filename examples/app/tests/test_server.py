import http.client
import json
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "app"))

import server as app_server  # noqa: E402


class ServerTestCase(unittest.TestCase):
    mode = "publish"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        version_file = os.path.join(cls.tmp.name, "VERSION")
        with open(version_file, "w") as f:
            f.write("9.8.7\n")
        cls.old_env = os.environ.get("APP_VERSION_FILE")
        os.environ["APP_VERSION_FILE"] = version_file
        cls.server = app_server.make_server(port=0, mode=cls.mode, host="127.0.0.1")
        cls.port = cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, kwargs={"poll_interval": 0.05})
        cls.thread.daemon = True
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join(5)
        if cls.old_env is None:
            os.environ.pop("APP_VERSION_FILE", None)
        else:
            os.environ["APP_VERSION_FILE"] = cls.old_env
        cls.tmp.cleanup()

    def request(self, path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            body = resp.read().decode("utf-8")
            return resp, body
        finally:
            conn.close()


class PublishTest(ServerTestCase):
    mode = "publish"

    def test_pages_show_version(self):
        for path in ("/", "/about", "/products"):
            with self.subTest(path=path):
                resp, body = self.request(path)
                self.assertEqual(resp.status, 200)
                self.assertIn('data-version="9.8.7"', body)
                self.assertIn("version 9.8.7", body)
                self.assertTrue(resp.getheader("Content-Type").startswith("text/html"))

    def test_version_header(self):
        resp, _ = self.request("/")
        self.assertEqual(resp.getheader("X-App-Version"), "9.8.7")

    def test_publish_pages_are_cacheable(self):
        resp, body = self.request("/products")
        self.assertEqual(resp.getheader("Cache-Control"), "public, max-age=300")
        self.assertNotIn("<h1>Author</h1>", body)

    def test_health(self):
        resp, body = self.request("/health")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Cache-Control"), "no-store")
        self.assertEqual(json.loads(body), {"status": "ok", "mode": "publish", "version": "9.8.7"})

    def test_unknown_path_is_404(self):
        resp, _ = self.request("/nope")
        self.assertEqual(resp.status, 404)

    def test_head_has_no_body(self):
        resp, body = self.request("/about", method="HEAD")
        self.assertEqual(resp.status, 200)
        self.assertEqual(body, "")

    @unittest.skip("demonstrates a skipped test in the JUnit report")
    def test_skipped_example(self):
        self.fail("never runs")


class AuthorTest(ServerTestCase):
    mode = "author"

    def test_author_pages_not_cached_and_show_heading(self):
        resp, body = self.request("/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Cache-Control"), "no-store")
        self.assertIn("<h1>Author</h1>", body)
        self.assertIn('data-version="9.8.7"', body)

    def test_author_health_reports_mode(self):
        _, body = self.request("/health")
        self.assertEqual(json.loads(body)["mode"], "author")


class VersionFileTest(unittest.TestCase):
    def test_missing_version_file(self):
        self.assertEqual(app_server.read_version("/nonexistent/VERSION"), "unknown")

    def test_invalid_mode_rejected(self):
        with self.assertRaises(ValueError):
            app_server.make_server(port=0, mode="bogus", version="1")


if __name__ == "__main__":
    unittest.main()
