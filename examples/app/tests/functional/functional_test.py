"""Functional tests of the sample app, run against a deployed environment (Stage) through its load balancer."""
import json
import os
import unittest
import urllib.error
import urllib.request

BASE = os.environ.get("STAGE_URL", "http://lb/").rstrip("/")
AUTHOR = os.environ.get("AUTHOR_URL", "").rstrip("/")
VERSION = os.environ.get("APP_VERSION", "")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode("utf-8", "replace")


class StageSiteTest(unittest.TestCase):
    def test_home_page_shows_the_deployed_version(self):
        status, headers, body = get(BASE + "/")
        self.assertEqual(status, 200)
        self.assertIn("<h2>Home</h2>", body)
        if VERSION:
            self.assertIn("version %s" % VERSION, body)
            self.assertEqual(headers.get("X-App-Version"), VERSION)

    def test_every_page_answers(self):
        for path, title in (("/about", "About"), ("/products", "Products")):
            with self.subTest(path=path):
                status, _, body = get(BASE + path)
                self.assertEqual(status, 200)
                self.assertIn("<h2>%s</h2>" % title, body)

    def test_health_reports_publish_mode(self):
        status, headers, body = get(BASE + "/health")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Cache-Control"), "no-store")
        health = json.loads(body)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["mode"], "publish")

    def test_unknown_page_is_404(self):
        status, _, _ = get(BASE + "/no-such-page")
        self.assertEqual(status, 404)

    def test_dispatcher_caches_pages(self):
        seen = [get(BASE + "/products")[1].get("X-Cache") for _ in range(3)]
        self.assertIn("HIT", seen, "the dispatcher should serve a cached copy within three requests: %s" % seen)

    @unittest.skipUnless(AUTHOR, "AUTHOR_URL not given")
    def test_author_is_not_cached(self):
        status, headers, body = get(AUTHOR + "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Cache-Control"), "no-store")
        self.assertIn("<h1>Author</h1>", body)


if __name__ == "__main__":
    unittest.main()
