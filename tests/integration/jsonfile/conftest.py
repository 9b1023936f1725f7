"""The JSON store's process tests start children from a forkserver that has imported the
code already, so each start costs a fork rather than an interpreter start."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext

import pytest


@pytest.fixture(scope="module")
def ctx() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["repositories.jsonfile", "tests.integration.jsonfile.workers"])
    return context
