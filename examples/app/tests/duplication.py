#!/usr/bin/env python3
"""Duplicated lines (stdlib only): blocks of at least `min-lines` consecutive lines that appear twice or more.

Usage: python3 tests/duplication.py [--config lint.cfg] [--json PATH] [PATH ...]

Lines are compared with surrounding whitespace removed; blank lines and comment-only lines are ignored when
forming blocks. Writes {"lines", "duplicatedLines", "density", "blocks": [...]}, density in percent of all lines
(Cloud Manager's duplicated_lines_density). Always exits 0.
"""
import argparse
import configparser
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from lint import python_files  # noqa: E402


def load_settings(path):
    parser = configparser.ConfigParser()
    if path and os.path.exists(path):
        parser.read(path, encoding="utf-8")
    section = parser["duplication"] if parser.has_section("duplication") else {}
    return {"paths": (section.get("paths") or "app").split(), "min-lines": int(section.get("min-lines") or 6)}


def measure(paths, min_lines):
    files = {}
    total = 0
    for path in python_files(paths):
        with open(path, encoding="utf-8") as f:
            raw = f.read().splitlines()
        total += len(raw)
        rel = os.path.relpath(path).replace(os.sep, "/")
        # (normalized text, physical line number) of the lines that count
        files[rel] = [(line.strip(), n) for n, line in enumerate(raw, 1) if line.strip() and not line.strip().startswith("#")]
    windows = {}
    for rel, lines in files.items():
        for i in range(len(lines) - min_lines + 1):
            key = "\n".join(text for text, _ in lines[i:i + min_lines])
            windows.setdefault(key, []).append((rel, i))
    duplicated = set()
    blocks = []
    for key, places in windows.items():
        if len(places) < 2:
            continue
        for rel, i in places:
            duplicated.update((rel, n) for _, n in files[rel][i:i + min_lines])
        blocks.append([{"file": rel, "startLine": files[rel][i][1]} for rel, i in places])
    density = round(100.0 * len(duplicated) / total, 1) if total else 0.0
    return {"lines": total, "duplicatedLines": len(duplicated), "density": density, "minLines": min_lines, "blocks": blocks[:50]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="lint.cfg")
    parser.add_argument("--json", metavar="PATH", help="write the report here (default: stdout)")
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    report = measure(args.paths or settings["paths"], settings["min-lines"])
    text = json.dumps(report, indent=1)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    print("duplication: %d of %d lines duplicated (%.1f%%)" % (report["duplicatedLines"], report["lines"], report["density"]),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
