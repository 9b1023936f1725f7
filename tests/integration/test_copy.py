"""``connectors db copy``: a JSON store into PostgreSQL (and back), resumable, verified."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.transfer import CopyError, checksum, copy_tables, verify_tables
from models import DATABASES, ChatMessage, ChatWorkflow, Property
from repositories import Context, Database, connect

pytest.importorskip("repositories.jsonfile")

runner = CliRunner()
N = 3000


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("DB_", "CONFIG_KEY", "CONNECTORS_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Database:
    """A JSON store with N properties of three mandates and some chat, written by users."""
    db = connect(f"jsonfile://{tmp_path / 'store'}", durability="none")
    db.ensure_schema(*DATABASES["realestate"], *DATABASES["chat"])
    for mandate in ("a", "b", "c"):
        ctx = db.with_context(Context(f"user-{mandate}", mandate, "user"))
        ctx.repository(Property).create_many(
            [
                Property(
                    title=f"{mandate}-{i}\ttab\nnewline \\ backslash ü",
                    price=i * 1.5,
                    rooms=i % 7 or None,
                    features={"i": i, "nested": {"ok": True}},
                    tags=["x", mandate],
                )
                for i in range(N // 3)
            ]
        )
        flow = ctx.repository(ChatWorkflow).create(ChatWorkflow(name=f"{mandate} flow"))
        ctx.repository(ChatMessage).create(
            ChatMessage(workflow_id=flow.id, role="user", message="hi", documents=[{"n": 1}])
        )
    return db


def test_json_store_into_postgres_keeps_ids_and_audit_fields(store: Database, pg_url: str) -> None:
    result = runner.invoke(app, ["db", "copy", store.url, pg_url, "--database", "realestate"])
    assert result.exit_code == 0, result.output
    assert "equal" in result.stdout and "Property" in result.stdout
    # the target's schema came from Alembic: it checks clean and later upgrades apply
    checked = runner.invoke(
        app, ["db", "check", "--db", "realestate"], env={"DB_REAL_ESTATE_URL": pg_url}
    )
    assert checked.exit_code == 0 and "no drift" in checked.stdout, checked.output
    target = connect(pg_url)
    try:
        assert target.repository(Property).count() == N
        one = store.repository(Property).find(order_by=["id"], limit=1)[0]
        assert target.repository(Property).get(one.id) == one
        assert one.created_by.startswith("user-")  # type: ignore[union-attr]
        assert checksum(store, Property) == checksum(target, Property)
        # and the scoping holds on the copy
        scoped = target.with_context(Context("user-b", "b", "user")).repository(Property)
        assert scoped.count() == N // 3
    finally:
        target.close()


def test_an_interrupted_copy_resumes(store: Database, pg_url: str) -> None:
    target = connect(pg_url)
    target.ensure_schema(Property)
    try:
        half = [
            p.model_dump(mode="json", by_alias=True)
            for p in store.repository(Property).find(order_by=["id"], limit=N // 2)
        ]
        assert target.repository(Property).import_rows(half) == N // 2  # "crashed" here
        (result,) = copy_tables(store, target, [Property], batch_size=400)
        assert result.written == N - N // 2
        (again,) = copy_tables(store, target, [Property])
        assert again.written == 0
        (checked,) = verify_tables(store, target, [Property])
        assert checked.verified and checked.target_count == N
    finally:
        target.close()


def test_verification_catches_a_difference(store: Database, pg_url: str) -> None:
    target = connect(pg_url)
    try:
        copy_tables(store, target, [Property, ChatWorkflow])
        victim = target.repository(Property).find(limit=1)[0]
        target.repository(Property).update(victim.id, {"price": -1.0})
        with pytest.raises(CopyError, match=r"Property .*checksums differ") as err:
            verify_tables(store, target, [Property, ChatWorkflow])
        assert {r.table: r.verified for r in err.value.results} == {
            "Property": False,
            "ChatWorkflow": True,
        }
    finally:
        target.close()


def test_postgres_back_into_a_json_store_and_sqlite(
    store: Database, pg_url: str, tmp_path: Path
) -> None:
    models = [*DATABASES["chat"], Property]
    pg = connect(pg_url)
    back = connect(f"jsonfile://{tmp_path / 'back'}", durability="none")
    lite = connect(f"sqlite:///{tmp_path / 'lite.db'}")
    try:
        copy_tables(store, pg, models)
        copy_tables(pg, back, models)
        copy_tables(back, lite, models)
        for target in (pg, back, lite):
            verify_tables(store, target, models)
    finally:
        for db in (pg, back, lite):
            db.close()


def test_copy_cli_errors_are_one_line(store: Database, tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "copy", store.url, "mysql://x/y"])
    assert result.exit_code == 2  # invalid input
    assert result.stderr.count("\n") == 1 and "mysql" in result.stderr
    result = runner.invoke(
        app, ["db", "copy", store.url, f"sqlite:///{tmp_path}/x.db", "--tables", "Nope"]
    )
    assert result.exit_code == 2 and "unknown table" in result.stderr
    listed = runner.invoke(app, ["records", "list", "Property", "--url", store.url, "--limit", "2"])
    assert len(json.loads(listed.stdout)) == 2


def test_a_damaged_source_stops_the_copy_cleanly(store: Database, tmp_path: Path) -> None:
    import gc
    import threading

    from repositories import StoreCorrupted

    victim = store.repository(Property).find(order_by=["id"], limit=1, offset=N // 2)[0]
    (tmp_path / "store" / "Property" / f"{victim.id}.json").write_text("{torn", encoding="utf-8")
    fresh = connect(f"jsonfile://{tmp_path / 'store'}")  # no cached rows: reads the files
    target = connect(f"sqlite:///{tmp_path / 'target.db'}")
    threads = threading.active_count()
    try:
        with pytest.raises(StoreCorrupted, match=victim.id):
            copy_tables(fresh, target, [Property], batch_size=500)
        assert gc.isenabled()
        assert threading.active_count() == threads  # the reader thread is gone
    finally:
        fresh.close()
        target.close()


def test_a_copy_onto_itself_is_refused_under_any_spelling(pg_url: str, tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    db = connect(pg_url)
    db.ensure_schema(Property)
    db.repository(Property).create(Property(title="only", mandate_id="m"))
    db.close()
    bare = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    result = runner.invoke(app, ["db", "copy", pg_url, bare, "--tables", "Property"])
    assert result.exit_code == 2 and "same database" in result.stderr
    monkey_env = {"DB_REAL_ESTATE_URL": pg_url}
    result = runner.invoke(app, ["db", "copy", "realestate", pg_url], env=monkey_env)
    assert result.exit_code == 2 and "same database" in result.stderr
    # the same server and database, another schema: a different destination
    other = make_url(pg_url).update_query_dict({"options": "-csearch_path=public"})
    assert _identity_differs(pg_url, other.render_as_string(hide_password=False))
    store = tmp_path / "s"
    result = runner.invoke(app, ["db", "copy", f"jsonfile://{store}", f"jsonfile://{store}/."])
    assert result.exit_code == 3 and "no JSON store" in result.stderr
    assert not store.exists()  # a mistyped source is never created


def _identity_differs(a: str, b: str) -> bool:
    from connectors.transfer import CopyRefused, refuse_same_database

    one, two = connect(a, create_tables=False), connect(b, create_tables=False)
    try:
        refuse_same_database(one, two)
    except CopyRefused:
        return False
    finally:
        one.close()
        two.close()
    return True


def test_missing_empty_and_unmigrated_sources_are_named(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    result = runner.invoke(app, ["db", "copy", f"sqlite:///{tmp_path / 'typo.db'}", target])
    assert result.exit_code == 3 and "no SQLite file" in result.stderr
    assert not (tmp_path / "typo.db").exists()
    (tmp_path / "bare.db").touch()  # a database, but never migrated
    result = runner.invoke(app, ["db", "copy", f"sqlite:///{tmp_path / 'bare.db'}", target])
    assert result.exit_code == 4 and "is it migrated" in result.stderr
    empty = connect(f"sqlite:///{tmp_path / 'realestate.db'}")
    empty.ensure_schema(Property)
    empty.close()
    result = runner.invoke(app, ["db", "copy", f"sqlite:///{tmp_path / 'realestate.db'}", target])
    assert result.exit_code == 0 and "is empty: nothing to copy" in result.stdout


COPY_ROWS = 6_000


@pytest.mark.slow
def test_ctrl_c_says_how_far_it_got_and_a_rerun_resumes(tmp_path: Path) -> None:
    """A real `connectors db copy` process, interrupted with SIGINT, then run again."""
    import signal
    import subprocess
    import sys
    import time

    # into a JSON store with full durability (an fsync per record): seconds, not a blink
    source, target = f"sqlite:///{tmp_path / 'src.db'}", f"jsonfile://{tmp_path / 'dst'}"
    db = connect(source)
    db.ensure_schema(Property)
    db.repository(Property).create_many(
        [Property(title=f"p{i}", mandate_id="m") for i in range(COPY_ROWS)], batch_size=5000
    )
    db.close()
    args = [sys.executable, "-m", "connectors", "db", "copy", source, target, "--batch-size", "200"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    copied = 0
    deadline = time.monotonic() + 60
    # the copy is frozen (SIGSTOP) while its files are counted, so a loaded machine that
    # stalls this process cannot let it finish between the count and the Ctrl-C
    while copied == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)
        copied = _count(tmp_path / "dst")
        if copied == 0:
            proc.send_signal(signal.SIGCONT)
    assert 0 < copied < COPY_ROWS, copied
    proc.send_signal(signal.SIGINT)  # delivered as it continues
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    line = [entry for entry in err.splitlines() if entry.startswith("interrupted:")]
    assert len(line) == 1 and "run the same command again to resume" in line[0], err
    assert "Traceback" not in err
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "equal" in again.stdout and _count(tmp_path / "dst") == COPY_ROWS


def _count(store: Path) -> int:
    """Record files the copy has written into the JSON store so far."""
    table = store / "Property"
    return (
        sum(1 for f in table.glob("*.json") if not f.name.startswith("_")) if table.is_dir() else 0
    )
