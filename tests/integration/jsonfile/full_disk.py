"""Child process of the disk-full test: fills a tiny file system through the repository.

Run as ``python -m tests.integration.jsonfile.full_disk DIR MODE``, where DIR is the
mount point of a small file system (``enospc``: a tmpfs of a few hundred KB mounted in a
private mount namespace) or a plain directory (``efbig``: this process's
``RLIMIT_FSIZE`` is set small, so growing any file past it fails with ``EFBIG``).
Prints one JSON object: what was acknowledged, what failed and how, and what the store
reads afterwards in this process and in a fresh view.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from models import User
from repositories import RepositoryError
from repositories.jsonfile import JsonDatabase, check

BIG = "x" * 3000


def attempt(report: dict[str, Any], label: str, call: Any) -> Any:
    """Run `call`; record a typed failure (anything else propagates and fails the test)."""
    try:
        result = call()
    except RepositoryError as exc:
        report["refused"].append(f"{label}: {type(exc).__name__}: {exc}")
        return None
    report["done"].append(label)
    return result


def main(root: Path, mode: str) -> dict[str, Any]:
    if mode == "efbig":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit gets EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (24 * 1024, resource.RLIM_INFINITY))
    url = f"jsonfile://{root / 'store'}"
    db = JsonDatabase(url, durability="full")
    users = db.repository(User)
    report: dict[str, Any] = {"refused": [], "done": []}
    acked: dict[str, str] = {}
    for i in range(5000):  # until the first refusal
        rid = f"r{i}"
        user = User(id=rid, username=f"u{i}", mandate_id="m1", full_name=BIG[: 1000 + i % 2000])
        if attempt(report, f"create {rid}", lambda u=user: users.create(u)) is None:
            break
        acked[rid] = user.full_name or ""
    report["filled"] = len(acked)
    report["done"].clear()

    def reads_back(label: str) -> None:
        found = {u.id: u.full_name for u in users.find()}
        report[label] = {
            "count": users.count(),
            "find_matches": found == acked,
            "gets_match": all(users.get(rid).full_name == v for rid, v in acked.items()),  # type: ignore[union-attr]
        }

    reads_back("after_first_refusal")
    # more writes that need room: each refused, nothing changed
    big = User(id="big", username="big", mandate_id="m1", full_name=BIG * 30)
    attempt(report, "create big", lambda: users.create(big))
    attempt(
        report,
        "create_many",
        lambda: users.create_many(
            [User(id=f"b{k}", username="b", mandate_id="m1", full_name=BIG * 4) for k in range(20)]
        ),
    )
    attempt(report, "update r0", lambda: users.update("r0", {"full_name": BIG * 30}))
    # a recovery (deriving the table again) removes orphaned temp files: reads after a
    # refused write must not recover again on every call, so this one stays
    probe = root / "store" / "User" / ".probe.json.1.0.tmp"
    probe.touch()
    reads_back("after_refused_writes")
    report["reads_left_the_table_alone"] = probe.exists()
    probe.unlink(missing_ok=True)
    # deleting frees room: then writes fit again
    victims = sorted(acked)[1:6]
    for rid in victims:
        if attempt(report, f"delete {rid}", lambda r=rid: users.delete(r)):
            del acked[rid]
    small = User(id="small", username="s", mandate_id="m1", full_name="s")
    if attempt(report, "create after delete", lambda: users.create(small)):
        acked["small"] = "s"
    if attempt(report, "update r0 small", lambda: users.update("r0", {"full_name": "tiny"})):
        acked["r0"] = "tiny"
    reads_back("after_deletes")
    attempt(report, "close", db.close)
    if mode == "efbig":  # room again (deletes cannot make a file smaller than the limit)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    fresh = JsonDatabase(url, durability="full").repository(User)
    report["fresh_matches"] = {u.id: u.full_name for u in fresh.find()} == acked
    result = check(root / "store")
    report["check"] = result.problems() if not result.ok else "ok"
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
