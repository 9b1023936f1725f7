"""Passwords in database URLs never reach a repr, a str or an error message a user may log."""

from __future__ import annotations

import traceback
from urllib.parse import quote

import pytest

from connectors.databases import open_databases
from connectors.settings import DatabaseConfig
from models import User
from repositories import InvalidQuery, RepositoryError, connect

PASSWORD = "Sup3r:S3cret@pw/"  # URL-hostile on purpose
QUOTED = quote(PASSWORD, safe="")


def shown(*values: object) -> str:
    return "\n".join(f"{v!r}\n{v!s}" for v in values)


def test_database_reprs_mask_the_password() -> None:
    url = f"postgresql+psycopg2://svc:{QUOTED}@127.0.0.1:9/app?connect_timeout=1"
    db = connect(url, create_tables=False)
    try:
        text = shown(db, db.with_context(db.context), DatabaseConfig("app", url))
        assert "svc:***@127.0.0.1:9/app" in text
        assert PASSWORD not in text and QUOTED not in text
        with pytest.raises(RepositoryError) as err:
            db.repository(User).count()  # nothing listens on port 9
        report = "".join(traceback.format_exception(err.value))
        assert PASSWORD not in report and QUOTED not in report
    finally:
        db.close()


def test_databases_facade_repr_masks_the_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    urls = {n: f"sqlite:///{tmp_path / n}.db" for n in ("app", "chat", "management")}
    urls["realestate"] = f"postgresql+psycopg2://svc:{QUOTED}@127.0.0.1:9/re"
    dbs = open_databases(urls=urls, create_tables=False)
    try:
        text = shown(dbs)
        assert "svc:***@" in text and PASSWORD not in text and QUOTED not in text
    finally:
        dbs.close()


@pytest.mark.parametrize(
    "url",
    [f"mysql://svc:{QUOTED}@db/app", f"postgresql//svc:{PASSWORD}@db/app"],
    ids=["unsupported scheme", "not a URL"],
)
def test_connect_errors_mask_the_password(url: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        connect(url)
    assert PASSWORD not in str(err.value) and QUOTED not in str(err.value)
