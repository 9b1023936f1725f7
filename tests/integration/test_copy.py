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
