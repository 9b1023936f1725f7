"""Running worker processes in the JSON store's process tests, never leaving one behind."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.context import ForkServerContext
from typing import Any


@contextlib.contextmanager
def reaped(processes: list[Any]) -> Iterator[None]:
    """Never leave a child behind, whatever the test does."""
    try:
        yield
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join(10)
            process.close()


def run_workers(
    ctx: ForkServerContext,
    workers: Sequence[tuple[Callable[..., None], tuple[Any, ...]]],
    timeout: float = 100,
) -> list[Any]:
    """Run each ``(target, args)`` with a pipe end appended to its args; return the one
    message each sends, once all have exited cleanly."""
    pipes = [ctx.Pipe(duplex=False) for _ in workers]
    processes = [
        ctx.Process(target=target, args=(*args, child))
        for (target, args), (_, child) in zip(workers, pipes, strict=True)
    ]
    try:
        with reaped(processes):
            for process in processes:
                process.start()
            assert all(parent.poll(timeout) for parent, _ in pipes), "a worker died: see stderr"
            messages = [parent.recv() for parent, _ in pipes]
            for process in processes:
                process.join(timeout)
                assert process.exitcode == 0
    finally:
        for parent, child in pipes:
            parent.close()
            child.close()
    return messages
