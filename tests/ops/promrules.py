"""A small checker for Prometheus rule files (no promtool on the build machines).

Checks the rule-file structure, that each expression's brackets balance, that durations parse,
that every metric an expression names is one the platform exposes, and that runbook links point
at files in the repository. Returns a list of problems (empty = valid).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")
SEVERITIES = {"warning", "critical"}
# Series Prometheus itself produces for every target.
BUILTIN_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {
    # aggregations and modifiers
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "atan2",
    # functions
    "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "resets",
    "changes", "histogram_quantile", "abs", "absent", "absent_over_time", "ceil", "floor",
    "round", "clamp", "clamp_min", "clamp_max", "exp", "ln", "log2", "log10", "sqrt", "time",
    "timestamp", "vector", "scalar", "sort", "sort_desc", "label_replace", "label_join",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "quantile_over_time", "stddev_over_time", "present_over_time",
    "day_of_week", "hour", "minute", "month", "year", "days_in_month", "inf", "nan",
}  # fmt: skip
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def brackets_balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in _without_strings(expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def _without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (labels, grouping lists, functions and numbers
    removed)."""
    text = _without_strings(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery windows
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    text = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", text)  # numbers
    return {word for word in IDENTIFIER.findall(text) if word.lower() not in PROMQL_WORDS}


def check_rule_file(doc: Any, known_metrics: Iterable[str], repo_root: Path) -> list[str]:
    known = set(known_metrics) | BUILTIN_SERIES
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list) or not doc["groups"]:
        return ["top level must be a mapping with a non-empty 'groups' list"]
    seen_groups: set[str] = set()
    seen_alerts: set[str] = set()
    for group in doc["groups"]:
        name = group.get("name") if isinstance(group, dict) else None
        if not name or name in seen_groups:
            problems.append(f"group without a unique name: {group!r:.60}")
            continue
        seen_groups.add(name)
        rules = group.get("rules")
        if not isinstance(rules, list) or not rules:
            problems.append(f"group {name}: 'rules' must be a non-empty list")
            continue
        for rule in rules:
            problems.extend(_check_rule(name, rule, known, repo_root, seen_alerts))
    return problems


def _check_rule(
    group: str, rule: Any, known: set[str], repo_root: Path, seen: set[str]
) -> list[str]:
    if not isinstance(rule, dict):
        return [f"group {group}: rule is not a mapping"]
    alert = rule.get("alert")
    where = f"{group}/{alert}"
    problems: list[str] = []
    allowed = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
    if unknown := set(rule) - allowed:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(alert, str) or not ALERT_NAME.match(alert):
        problems.append(f"{where}: alert name must be CamelCase")
    elif alert in seen:
        problems.append(f"{where}: duplicate alert name")
    else:
        seen.add(alert)
    expr = rule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        return [*problems, f"{where}: missing expr"]
    if not brackets_balanced(expr):
        problems.append(f"{where}: unbalanced brackets in expr")
    names = metric_names(expr)
    if not names:
        problems.append(f"{where}: expr selects no metric")
    problems.extend(f"{where}: unknown metric {n}" for n in sorted(names - known))
    for key in ("for", "keep_firing_for"):
        if key in rule and not DURATION.match(str(rule[key])):
            problems.append(f"{where}: '{key}' is not a duration: {rule[key]!r}")
    labels = rule.get("labels") or {}
    if labels.get("severity") not in SEVERITIES:
        problems.append(f"{where}: labels.severity must be one of {sorted(SEVERITIES)}")
    annotations = rule.get("annotations") or {}
    if not annotations.get("summary"):
        problems.append(f"{where}: annotations.summary is required")
    runbook = annotations.get("runbook")
    if not runbook or not (repo_root / str(runbook)).is_file():
        problems.append(f"{where}: annotations.runbook must name a file in the repo: {runbook}")
    return problems
