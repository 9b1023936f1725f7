"""A full disk fails only the writes that could not be made, with a real file system.

``enospc``: the store lives on a 256 KB tmpfs that a child process mounts in a private
mount namespace (``unshare --user --map-root-user --mount``: nothing is mounted on the
host, and no root is needed where user namespaces are allowed), so the kernel's own
accounting runs out and writes get ``ENOSPC``, as on a full disk. ``efbig``: the child
caps its own ``RLIMIT_FSIZE``, so growing any file past 24 KB fails with ``EFBIG``; this
runs anywhere and exercises refusals of the journal and the snapshot themselves.

The child (`full_disk`) fills the store through the repository until a write is
refused, then checks that this process still reads everything acknowledged, that
further writes that need room are refused and change nothing, that deletes free room,
that ``close()`` works, and that a fresh view and ``check`` agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]


def namespaces_allowed() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def run_child(directory: Path, mode: str) -> dict[str, Any]:
    child = [sys.executable, "-m", "tests.integration.jsonfile.full_disk"]
    if mode == "enospc":
        if not namespaces_allowed():
            if IN_CI:
                pytest.fail("unshare --user --mount is not allowed here; CI needs it")
            pytest.skip("user and mount namespaces are not allowed on this machine")
        script = 'mount -t tmpfs -o size=256k tmpfs "$1" && shift && exec "$@"'
        command = [*UNSHARE, "sh", "-c", script, "sh", str(directory), *child, str(directory)]
    else:
        command = [*child, str(directory)]
    done = subprocess.run(
        [*command, mode], capture_output=True, text=True, timeout=240, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["enospc", "efbig"])
def test_a_full_disk_fails_only_the_writes_that_do_not_fit(tmp_path: Path, mode: str) -> None:
    report = run_child(tmp_path, mode)
    errno_text = {"enospc": "No space left on device", "efbig": "File too large"}[mode]
    refused = report["refused"]
    assert report["filled"] > 10 and refused, report
    assert refused[0].startswith(f"create r{report['filled']}: RepositoryError")
    assert errno_text in refused[0]
    # the process that hit the full disk reads everything acknowledged, and only that
    for stage in ("after_first_refusal", "after_refused_writes", "after_deletes"):
        assert report[stage]["find_matches"] and report[stage]["gets_match"], (stage, report)
    assert report["after_first_refusal"]["count"] == report["filled"]
    assert report["after_refused_writes"]["count"] == report["filled"]
    assert report["reads_left_the_table_alone"]
    labels = [line.split(":")[0] for line in refused]
    assert {"create big", "create_many", "update r0"} <= set(labels)  # refused, no trace left
    assert "close" in report["done"]  # close() works on a full disk
    assert report["fresh_matches"] and report["check"] == "ok", report
    if mode == "enospc":  # deleting frees room: the store takes writes again
        assert {"delete r1", "create after delete", "update r0 small"} <= set(report["done"])
        assert report["after_deletes"]["count"] == report["filled"] - 5 + 1
