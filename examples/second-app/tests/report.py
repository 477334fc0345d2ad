#!/usr/bin/env python3
"""Runs the unit tests and writes the reports Stagecoach reads from /out: junit.xml + exit-code (unit tests) and
checks.sarif (a small stdlib checker: lines over 120 characters and leftover TODOs, SARIF 2.1.0).

Usage: python3 tests/report.py OUT_DIR   (coverage.json is written by the caller, which runs this under coverage)
"""
import json
import os
import sys
import unittest
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def run_unit_tests(out):
    unit = os.path.join(ROOT, "tests", "unit")
    suite = unittest.defaultTestLoader.discover(unit, top_level_dir=unit)
    cases = list(flatten(suite))  # before the run, which empties the suite
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = {t.id(): m for t, m in result.failures + result.errors}
    root = ET.Element("testsuite", name="second-app", tests=str(result.testsRun),
                      failures=str(len(result.failures)), errors=str(len(result.errors)), skipped=str(len(result.skipped)))
    for case in cases:
        classname, _, name = case.id().rpartition(".")
        el = ET.SubElement(root, "testcase", classname=classname, name=name)
        if case.id() in failed:
            ET.SubElement(el, "failure", message=failed[case.id()].splitlines()[-1]).text = failed[case.id()]
    ET.ElementTree(root).write(os.path.join(out, "junit.xml"), encoding="utf-8", xml_declaration=True)
    return 0 if result.wasSuccessful() else 1


def check_sources(out):
    results = []
    for name in sorted(os.listdir(os.path.join(ROOT, "app"))):
        path = os.path.join("app", name)
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                problem = "line longer than 120 characters" if len(line.rstrip("\n")) > 120 else \
                    "a TODO left in the code" if "TODO" in line else None
                if problem:
                    results.append({"ruleId": "style", "level": "note", "message": {"text": problem}, "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": path}, "region": {"startLine": number}}}]})
    sarif = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "board-check", "rules": [
        {"id": "style", "properties": {"tags": ["maintainability"]}}]}}, "results": results}]}
    with open(os.path.join(out, "checks.sarif"), "w", encoding="utf-8") as f:
        json.dump(sarif, f, indent=1)


if __name__ == "__main__":
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    code = run_unit_tests(out_dir)
    with open(os.path.join(out_dir, "exit-code"), "w", encoding="utf-8") as f:
        f.write("%d\n" % code)
    check_sources(out_dir)
