"""Smoke tests of the board on Stage, through its load balancer: the page, its version, the health path."""
import json
import os
import sys
import urllib.request
import xml.etree.ElementTree as ET

BASE = os.environ.get("STAGE_URL", "http://lb/").rstrip("/")
VERSION = os.environ.get("APP_VERSION", "")


def get(path):
    with urllib.request.urlopen(BASE + path, timeout=10) as res:
        return res.status, res.read().decode("utf-8")


def test_board_shows_the_deployed_version():
    status, body = get("/")
    assert status == 200 and "Departures" in body, body[:200]
    assert not VERSION or ("board %s" % VERSION) in body, "version %s not on the page" % VERSION


def test_health_through_the_load_balancer():
    status, body = get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok", body


def main():
    tests = [test_board_shows_the_deployed_version, test_health_through_the_load_balancer]
    suite = ET.Element("testsuite", name="smoke", tests=str(len(tests)))
    failures = 0
    for test in tests:
        case = ET.SubElement(suite, "testcase", classname="smoke", name=test.__name__)
        try:
            test()
            print("ok   %s" % test.__name__)
        except Exception as err:  # a failed assertion or an HTTP error: both fail the test
            failures += 1
            ET.SubElement(case, "failure", message=str(err)).text = repr(err)
            print("FAIL %s: %s" % (test.__name__, err))
    suite.set("failures", str(failures))
    os.makedirs(os.environ.get("REPORTS_DIR", "/out"), exist_ok=True)
    ET.ElementTree(suite).write(os.path.join(os.environ.get("REPORTS_DIR", "/out"), "junit.xml"), encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
