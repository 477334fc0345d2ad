#!/usr/bin/env python3
"""Run the unit tests (unittest discovery over tests/) and write a JUnit XML report.

Usage: python3 tests/run.py [--junit PATH]
Exit code 0 when every test passed, 1 otherwise.
"""
import argparse
import os
import sys
import time
import traceback
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


class RecordingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []  # (test, outcome, message, detail, seconds)
        self._started = {}

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        super().startTest(test)

    def _elapsed(self, test):
        start = self._started.pop(test.id(), None)
        return 0.0 if start is None else time.monotonic() - start

    def _record(self, test, outcome, message="", detail=""):
        self.records.append((test, outcome, message, detail, self._elapsed(test)))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", str(err[1]), "".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", "%s: %s" % (err[0].__name__, err[1]),
                     "".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "failure", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "failure" if issubclass(err[0], test.failureException) else "error"
            self.records.append((subtest, kind, str(err[1]),
                                 "".join(traceback.format_exception(*err)), 0.0))


def test_names(test):
    # test.id() is "module.Class.method" (or a subtest / _ErrorHolder description)
    parent = getattr(test, "test_case", None)  # a subTest
    if isinstance(parent, unittest.TestCase):
        classname, _, name = parent.id().rpartition(".")
        return classname, "%s %s" % (name, test._subDescription())
    tid = test.id()
    if isinstance(test, unittest.TestCase) and "." in tid:
        classname, _, name = tid.rpartition(".")
        return classname, name
    return tid.split(" ")[0], tid


def write_junit(path, result, duration):
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for _, outcome, _, _, _ in result.records:
        if outcome in counts:
            counts[outcome] += 1
    attrs = {
        "name": "stagecoach-sample",
        "tests": str(len(result.records)),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": "%.3f" % duration,
    }
    suites = ET.Element("testsuites", attrs)
    suite = ET.SubElement(suites, "testsuite", attrs)
    for test, outcome, message, detail, seconds in result.records:
        classname, name = test_names(test)
        case = ET.SubElement(suite, "testcase",
                             {"classname": classname, "name": name, "time": "%.3f" % seconds})
        if outcome in ("failure", "error"):
            el = ET.SubElement(case, outcome, {"message": message})
            el.text = detail
        elif outcome == "skipped":
            ET.SubElement(case, "skipped", {"message": message})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--junit", metavar="PATH", help="write a JUnit XML report to PATH")
    args = parser.parse_args(argv)

    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=RecordingResult, stream=sys.stdout)
    start = time.monotonic()
    result = runner.run(suite)
    duration = time.monotonic() - start
    if args.junit:
        write_junit(args.junit, result, duration)
        print("JUnit report written to %s" % args.junit)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
