#!/usr/bin/env python3
"""A small Python linter (stdlib only) that writes SARIF 2.1.0, the format code scanners share.

Usage: python3 tests/lint.py [--config lint.cfg] [--sarif PATH] [PATH ...]

Each rule carries, in its SARIF properties, what the pipeline's quality gates need:
  tags               one of security | reliability | maintainability (Cloud Manager's issue types:
                     vulnerability, bug, code smell)
  severity           blocker | critical | major | minor | info
  remediationMinutes the estimated time to fix one finding (maintainability rating = debt / development time)
The run's properties carry linesOfCode (non-blank, non-comment lines). A line ending in `# noqa` is not reported.
Always exits 0: the pipeline decides what the findings mean.
"""
import argparse
import ast
import configparser
import io
import json
import os
import re
import sys
import tokenize

RULES = {
    # Security (vulnerabilities)
    "PY-S001": ("no-eval", "security", "critical", 30, "eval() and exec() run arbitrary code"),
    "PY-S002": ("no-shell", "security", "critical", 30, "a command run through a shell allows command injection"),
    "PY-S003": ("no-unsafe-deserialization", "security", "major", 20, "pickle and marshal execute code while loading"),
    "PY-S004": ("no-hardcoded-credentials", "security", "blocker", 30, "credentials must not be written in the source"),
    # Reliability (bugs)
    "PY-R001": ("no-return-in-finally", "reliability", "critical", 10, "return/break/continue in finally swallows exceptions"),
    "PY-R002": ("no-is-literal", "reliability", "critical", 5, "`is` compares identity, not the value of a literal"),
    "PY-R003": ("no-mutable-default", "reliability", "major", 10, "a mutable default argument is shared between calls"),
    "PY-R004": ("no-bare-except", "reliability", "major", 5, "a bare except also catches SystemExit and KeyboardInterrupt"),
    "PY-R005": ("no-unreachable-code", "reliability", "major", 5, "code after return, raise, break or continue never runs"),
    "PY-R006": ("no-eq-none", "reliability", "minor", 2, "compare with None using `is` / `is not`"),
    # Maintainability (code smells)
    "PY-M001": ("no-unused-import", "maintainability", "minor", 2, "an imported name is never used"),
    "PY-M002": ("function-length", "maintainability", "major", 20, "function is too long"),
    "PY-M003": ("complexity", "maintainability", "critical", 30, "function is too complex (cyclomatic complexity)"),
    "PY-M004": ("line-length", "maintainability", "minor", 1, "line is too long"),
    "PY-M005": ("no-todo", "maintainability", "info", 0, "a TODO or FIXME comment marks unfinished work"),
    "PY-M006": ("too-many-parameters", "maintainability", "major", 20, "function takes too many parameters"),
    "PY-M007": ("no-wildcard-import", "maintainability", "minor", 5, "a wildcard import hides where names come from"),
}
LEVEL = {"blocker": "error", "critical": "error", "major": "warning", "minor": "note", "info": "note"}
CREDENTIAL_NAME = re.compile(r"(password|passwd|secret|api_?key|token)$", re.IGNORECASE)


class Checker(ast.NodeVisitor):
    def __init__(self, path, source, settings):
        self.path = path
        self.lines = source.splitlines()
        self.settings = settings
        self.findings = []

    def report(self, rule, node_or_line, message):
        line = node_or_line if isinstance(node_or_line, int) else getattr(node_or_line, "lineno", 1)
        self.findings.append((rule, self.path, line, message))

    # --- security --------------------------------------------------------------------------------------------
    def visit_Call(self, node):
        name = dotted(node.func)
        if name in ("eval", "exec"):
            self.report("PY-S001", node, "call to %s()" % name)
        if name in ("os.system", "os.popen"):
            self.report("PY-S002", node, "call to %s()" % name)
        if name.startswith("subprocess.") and any(
                k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords):
            self.report("PY-S002", node, "%s(..., shell=True)" % name)
        if name in ("pickle.load", "pickle.loads", "marshal.load", "marshal.loads"):
            self.report("PY-S003", node, "call to %s()" % name)
        self.generic_visit(node)

    def visit_Assign(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) and node.value.value:
            for target in node.targets:
                name = dotted(target).rsplit(".", 1)[-1]
                if name and CREDENTIAL_NAME.search(name):
                    self.report("PY-S004", node, "credential %s assigned a literal" % name)
        self.generic_visit(node)

    # --- reliability -----------------------------------------------------------------------------------------
    def visit_Try(self, node):
        for stmt in node.finalbody:
            for inner in walk_same_function(stmt):
                if isinstance(inner, ast.Return) or (isinstance(inner, (ast.Break, ast.Continue)) and inner in node.finalbody):
                    self.report("PY-R001", inner, "%s in finally" % type(inner).__name__.lower())
        for handler in node.handlers:
            if handler.type is None:
                self.report("PY-R004", handler, "bare except:")
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_Compare(self, node):
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) \
                    and isinstance(right.value, (str, bytes, int, float)) and not isinstance(right.value, bool):
                self.report("PY-R002", node, "`is` comparison with the literal %r" % (right.value,))
            if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(right, ast.Constant) and right.value is None:
                self.report("PY-R006", node, "comparison to None with ==/!=")
        self.generic_visit(node)

    def check_blocks(self, node):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for i, stmt in enumerate(block[:-1]):
                if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
                    self.report("PY-R005", block[i + 1], "unreachable statement after %s" % type(stmt).__name__.lower())
                    break

    def generic_visit(self, node):
        if isinstance(node, ast.stmt) or isinstance(node, (ast.Module, ast.ExceptHandler)):
            self.check_blocks(node)
        super().generic_visit(node)

    # --- maintainability -------------------------------------------------------------------------------------
    def visit_FunctionDef(self, node):
        defaults = node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
        for default in defaults:
            if isinstance(default, (ast.List, ast.Dict, ast.Set)) or dotted(getattr(default, "func", None)) in ("list", "dict", "set"):
                self.report("PY-R003", default, "mutable default argument in %s()" % node.name)
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > self.settings["max-function-lines"]:
            self.report("PY-M002", node, "%s() has %d lines (at most %d)" % (node.name, length, self.settings["max-function-lines"]))
        complexity = cyclomatic_complexity(node)
        if complexity > self.settings["max-complexity"]:
            self.report("PY-M003", node, "%s() has a cyclomatic complexity of %d (at most %d)" % (
                node.name, complexity, self.settings["max-complexity"]))
        args = node.args
        count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) - (1 if args.args and args.args[0].arg in ("self", "cls") else 0)
        if count > self.settings["max-parameters"]:
            self.report("PY-M006", node, "%s() takes %d parameters (at most %d)" % (node.name, count, self.settings["max-parameters"]))
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ImportFrom(self, node):
        if any(alias.name == "*" for alias in node.names):
            self.report("PY-M007", node, "from %s import *" % (node.module or "."))
        self.generic_visit(node)


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return "%s.%s" % (base, node.attr) if base else node.attr
    return ""


def walk_same_function(node):
    """Like ast.walk, without descending into nested functions, classes or lambdas."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                todo.append(child)


def cyclomatic_complexity(func):
    complexity = 1
    for node in walk_same_function(func):
        if node is func:
            continue
        if isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.IfExp, ast.ExceptHandler, ast.Assert)):
            complexity += 1
        elif isinstance(node, ast.BoolOp):
            complexity += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            complexity += 1 + len(node.ifs)
        elif hasattr(ast, "match_case") and isinstance(node, ast.match_case):
            complexity += 1
    return complexity


def unused_imports(tree, path):
    imported = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[(alias.asname or alias.name).split(".")[0]] = node
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name != "*":
                    imported[alias.asname or alias.name] = node
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {dotted(n).split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    exported = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(dotted(t) == "__all__" for t in node.targets) \
                and isinstance(node.value, (ast.List, ast.Tuple)):
            exported |= {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    if os.path.basename(path) == "__init__.py":
        return []
    return [("PY-M001", path, node.lineno, "%s is imported but never used" % name)
            for name, node in imported.items() if name not in used and name not in exported]


def line_findings(path, source, settings):
    findings = []
    for number, line in enumerate(source.splitlines(), 1):
        if len(line) > settings["max-line-length"]:
            findings.append(("PY-M004", path, number, "line has %d characters (at most %d)" % (len(line), settings["max-line-length"])))
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and re.search(r"\b(TODO|FIXME)\b", token.string):
                findings.append(("PY-M005", path, token.start[0], token.string.lstrip("# ").strip()[:80]))
    except (tokenize.TokenError, SyntaxError):
        pass
    return findings


def lines_of_code(source):
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def python_files(paths):
    for root in paths:
        if os.path.isfile(root):
            yield root
            continue
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(directory, name)


def scan(paths, settings):
    findings, loc = [], 0
    for path in python_files(paths):
        with open(path, encoding="utf-8") as f:
            source = f.read()
        loc += lines_of_code(source)
        rel = os.path.relpath(path).replace(os.sep, "/")
        try:
            tree = ast.parse(source, filename=path)
        except SyntaxError as err:
            findings.append(("PY-R005", rel, err.lineno or 1, "syntax error: %s" % err.msg))
            continue
        checker = Checker(rel, source, settings)
        checker.visit(tree)
        lines = source.splitlines()
        for finding in checker.findings + unused_imports(tree, rel) + line_findings(rel, source, settings):
            text = lines[finding[2] - 1] if 0 < finding[2] <= len(lines) else ""
            if finding[0] not in settings["disable"] and not re.search(r"#\s*noqa\b", text):
                findings.append(finding)
    return sorted(set(findings), key=lambda f: (f[1], f[2], f[0])), loc


def to_sarif(findings, loc):
    used = sorted({f[0] for f in findings} | set(RULES))
    rules = []
    for rule_id in used:
        name, kind, severity, minutes, text = RULES[rule_id]
        rules.append({
            "id": rule_id, "name": name, "shortDescription": {"text": text},
            "defaultConfiguration": {"level": LEVEL[severity]},
            "properties": {"tags": [kind], "severity": severity, "remediationMinutes": minutes},
        })
    results = []
    for rule_id, path, line, message in findings:
        results.append({
            "ruleId": rule_id, "ruleIndex": used.index(rule_id), "level": LEVEL[RULES[rule_id][2]],
            "message": {"text": message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": path}, "region": {"startLine": line}}}],
        })
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "stagecoach-sample-lint", "version": "1.0.0", "rules": rules}},
            "results": results,
            "properties": {"linesOfCode": loc},
        }],
    }


def load_settings(path):
    parser = configparser.ConfigParser()
    if path and os.path.exists(path):
        parser.read(path, encoding="utf-8")
    section = parser["lint"] if parser.has_section("lint") else {}
    get = lambda key, default: int(section.get(key, default) or default)  # noqa: E731
    return {
        "paths": (section.get("paths") or "app").split(),
        "max-line-length": get("max-line-length", 120),
        "max-function-lines": get("max-function-lines", 60),
        "max-complexity": get("max-complexity", 12),
        "max-parameters": get("max-parameters", 7),
        "disable": {r.strip() for r in (section.get("disable") or "").split(",") if r.strip()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="lint.cfg")
    parser.add_argument("--sarif", metavar="PATH", help="write the SARIF report here (default: stdout)")
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    findings, loc = scan(args.paths or settings["paths"], settings)
    report = json.dumps(to_sarif(findings, loc), indent=1)
    if args.sarif:
        with open(args.sarif, "w", encoding="utf-8") as f:
            f.write(report + "\n")
    else:
        print(report)
    for rule_id, path, line, message in findings:
        print("%s:%d: %s %s [%s]" % (path, line, rule_id, message, RULES[rule_id][2]), file=sys.stderr)
    print("lint: %d finding(s) in %d lines of code" % (len(findings), loc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
