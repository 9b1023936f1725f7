"""Fakes of Jira Cloud and ClickUp for your own tests, as ``moto`` is for AWS.

Each fake is a stateful, in-memory copy of the service's documented behaviour (paging,
validation errors, rate limits, time zones) that runs behind an ``httpx`` transport, so the
real connector code runs unchanged against it::

    from integrations.tickets.jira import JiraConnector
    from integrations.tickets.testing import FakeJira

    jira = FakeJira()                                  # project PRJ, issue type Task
    issue_id = jira.add_issue("Printer on fire", description="It *smokes*.")
    client = httpx.Client(transport=jira.transport())  # requests checked against the spec
    connector = JiraConnector("https://x.atlassian.net", "ada@example.com", "jira-token",
                              "PRJ", "Task", client=client)

``transport()`` validates every request against the vendor's OpenAPI description (shipped
in ``specs/``) before the fake answers it, so a request the real service would reject fails
the test with `SpecViolation`. The fakes record what they received (``requests``,
``writes``) and expose their state (``issues``, ``tasks``) for assertions; ``edit()``
changes a ticket as a person in the web UI would.

Needs the ``testing`` extra (``pip install 'connectors-layer[testing]'``) for jsonschema.
"""

from __future__ import annotations

try:
    import jsonschema  # noqa: F401  (fail early, with the install hint)
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "integrations.tickets.testing needs jsonschema: pip install 'connectors-layer[testing]'"
    ) from exc

from integrations.tickets.testing.clickup import FakeClickUp
from integrations.tickets.testing.jira import FakeJira
from integrations.tickets.testing.openapi import (
    SpecValidator,
    SpecViolation,
    clickup_validator,
    jira_validator,
    validating,
)
from integrations.tickets.testing.throttle import Throttle

__all__ = [
    "FakeClickUp",
    "FakeJira",
    "SpecValidator",
    "SpecViolation",
    "Throttle",
    "clickup_validator",
    "jira_validator",
    "validating",
]
