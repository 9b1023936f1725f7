"""`open_databases`: the four logical databases from the settings, and their facades."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.databases import model_database, model_for_table, open_databases
from connectors.settings import load_settings
from models import ChatLog, Mandate, Property, User
from repositories import Context, InvalidQuery


def test_open_databases_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("APP", "CHAT", "MANAGEMENT", "REAL_ESTATE"):
        monkeypatch.setenv(f"DB_{key}_URL", f"sqlite:///{tmp_path / key.lower()}.db")
    with open_databases(load_settings()) as dbs:
        assert dbs.by_name["realestate"].url.endswith("real_estate.db")
        assert dbs.context == Context.system()
        dbs.ensure_schema()
        dbs.app.mandates.create(Mandate(id="m", name="M"))
        ann = dbs.for_context(Context("ann", "m", "user"))
        ann.app.users.create(User(username="ann"))
        assert ann.app.users.find()[0].mandate_id == "m"
        assert dbs.for_context(Context("bob", "x", "user")).app.users.count() == 0
        assert dbs.repository(ChatLog).count() == 0
        # cheap: the same context gives the same cached databases
        again = dbs.for_context(Context("ann", "m", "user"))
        assert all(again.by_name[n] is ann.by_name[n] for n in ann.by_name)
    assert (tmp_path / "app.db").exists() and (tmp_path / "real_estate.db").exists()


def test_models_and_tables_are_looked_up_by_name() -> None:
    assert model_for_table("property") is Property
    assert model_database(Property) == "realestate" and model_database(User) == "app"
    with pytest.raises(InvalidQuery, match=r"known tables: .*Property"):
        model_for_table("Nope")
