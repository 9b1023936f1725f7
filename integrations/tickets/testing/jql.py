"""The part of JQL the fake Jira understands, evaluated over its in-memory issues.

Grammar (Atlassian's JQL reference: https://support.atlassian.com/jira-software-cloud/docs/
use-advanced-search-with-jira-query-language-jql/): clauses ``field op value`` joined by
``AND``/``OR``, negated by ``NOT``, grouped by parentheses, then ``ORDER BY f [ASC|DESC],
...``. Operators ``= != > >= < <= ~ !~ IN (…) NOT IN (…) IS [NOT] EMPTY``. Fields:
``project``, ``issuetype``/``type``, ``status``, ``priority``, ``summary``,
``description``, ``text``, ``labels``, ``key``/``issuekey``, ``id``, ``created``,
``updated`` and ``cf[NNNNN]``/``customfield_NNNNN``. Dates are ``"yyyy-MM-dd[ HH:mm]"`` in
the user's time zone. Anything else is a `JqlError`, answered with HTTP 400 like
Jira's "Error in the JQL Query".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

__all__ = ["JqlError", "compile_jql"]

Issue = dict[str, Any]
Predicate = Callable[[Issue], bool]

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|>=|<=|!~|=|>|<|~)'
    r"|(?P<punct>[(),])|(?P<word>[^\s(),=!<>~\"']+))"
)
_FIELDS = {"type": "issuetype", "issuekey": "key"}


class JqlError(ValueError):
    """JQL the fake does not accept."""


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(jql):
        match = _TOKEN.match(jql, pos)
        if match is None or match.end() == pos:
            if jql[pos:].strip():
                raise JqlError(f"cannot parse {jql[pos:]!r}")
            break
        pos = match.end()
        kind = match.lastgroup
        assert kind is not None
        text = match.group(kind)
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        out.append((kind, text))
    return out


class _Parser:
    def __init__(self, jql: str, zone: tzinfo, parse_time: Callable[[str], datetime]) -> None:
        self.tokens = _tokens(jql)
        self.pos = 0
        self.zone = zone
        self.parse_time = parse_time

    def peek(self, upper: bool = True) -> str | None:
        if self.pos >= len(self.tokens):
            return None
        kind, text = self.tokens[self.pos]
        return text.upper() if upper and kind == "word" else text

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise JqlError("unexpected end of the query")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expect(self, text: str) -> None:
        kind, got = self.take()
        if (got.upper() if kind == "word" else got) != text:
            raise JqlError(f"expected {text!r}, got {got!r}")

    def query(self) -> tuple[Predicate, list[tuple[str, bool]]]:
        predicate: Predicate = (lambda issue: True) if self.peek() == "ORDER" else self.or_()
        order: list[tuple[str, bool]] = []
        if self.peek() == "ORDER":
            self.take()
            self.expect("BY")
            while True:
                field = self.field(self.take()[1])
                descending = False
                if self.peek() in ("ASC", "DESC"):
                    descending = self.take()[1].upper() == "DESC"
                order.append((field, descending))
                if self.peek() != ",":
                    break
                self.take()
        if self.peek() is not None:
            raise JqlError(f"unexpected {self.peek(upper=False)!r}")
        return predicate, order

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def and_(self) -> Predicate:
        parts = [self.not_()]
        while self.peek() == "AND":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def not_(self) -> Predicate:
        if self.peek() == "NOT":
            self.take()
            inner = self.not_()
            return lambda i: not inner(i)
        if self.peek() == "(":
            self.take()
            inner = self.or_()
            self.expect(")")
            return inner
        return self.clause()

    @staticmethod
    def field(name: str) -> str:
        lowered = name.lower()
        if match := re.fullmatch(r"cf\[(\d+)\]", lowered):
            return f"customfield_{match.group(1)}"
        return _FIELDS.get(lowered, lowered)

    def clause(self) -> Predicate:
        kind, name = self.take()
        if kind not in ("word", "string"):
            raise JqlError(f"expected a field, got {name!r}")
        field = self.field(name)
        op = self.peek()
        if op in ("IN", "NOT", "IS"):
            self.take()
            negate = op == "NOT"
            if op == "IS":
                negate = self.peek() == "NOT"
                if negate:
                    self.take()
                self.expect("EMPTY")
                return lambda i: (_value(i, field) in (None, "", [])) != negate
            if negate:
                self.expect("IN")
            self.expect("(")
            values = [self.take()[1]]
            while self.peek() == ",":
                self.take()
                values.append(self.take()[1])
            self.expect(")")
            return lambda i: any(_equal(i, field, v) for v in values) != negate
        kind, op = self.take()
        if kind != "op":
            raise JqlError(f"expected an operator after {name!r}, got {op!r}")
        value = self.take()[1]
        if op in ("=", "!="):
            return lambda i: _equal(i, field, value) != (op == "!=")
        if op in ("~", "!~"):
            return lambda i: _contains(i, field, value) != (op == "!~")
        if field not in ("created", "updated"):
            raise JqlError(f"operator {op!r} is not supported for field {name!r}")
        since = self.date(value)
        compare = {">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__"}[op]
        return lambda i: bool(getattr(self.parse_time(_value(i, field)), compare)(since))

    def date(self, value: str) -> datetime:
        for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
            try:
                return datetime.strptime(value, pattern).replace(tzinfo=self.zone)
            except ValueError:
                continue
        raise JqlError(f"date value {value!r} is invalid (yyyy-MM-dd [HH:mm])")


def _value(issue: Issue, field: str) -> Any:
    if field in ("key", "id"):
        return issue[field]
    if field == "text":
        return " ".join(str(_value(issue, f) or "") for f in ("summary", "description"))
    value = issue["fields"].get(field)
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return str(value)
        return value.get("key") if field == "project" else value.get("name")
    return value


def _equal(issue: Issue, field: str, wanted: str) -> bool:
    value = _value(issue, field)
    if field == "project" and isinstance(issue["fields"].get("project"), dict):
        names = {str(v).casefold() for v in issue["fields"]["project"].values()}
        return wanted.casefold() in names
    if isinstance(value, list):
        return wanted in [str(v) for v in value]
    return value is not None and str(value).casefold() == wanted.casefold()


def _contains(issue: Issue, field: str, wanted: str) -> bool:
    words = [w for w in re.split(r"\W+", wanted.casefold()) if w]
    text = str(_value(issue, field) or "").casefold()
    return all(w in text for w in words)


def compile_jql(
    jql: str, zone: tzinfo, parse_time: Callable[[str], datetime]
) -> tuple[Predicate, Callable[[list[Issue]], list[Issue]]]:
    """A filter and a sort for ``jql`` (raises `JqlError` for what it cannot do)."""
    predicate, order = _Parser(jql, zone, parse_time).query()

    def sort(issues: list[Issue]) -> list[Issue]:
        out = sorted(issues, key=lambda i: int(i["id"]))
        for field, descending in reversed(order):
            out.sort(key=lambda i, f=field: _sort_key(i, f), reverse=descending)  # type: ignore[misc]
        return out

    return predicate, sort


def _sort_key(issue: Issue, field: str) -> Any:
    if field in ("id", "key"):
        return int(issue["id"])
    value = _value(issue, field)
    return "" if value is None else str(value)
