"""The ``connectors`` CLI driven through Typer's runner, on SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from connectors.cli import app
from connectors.cli.common import sub_app
from connectors.secrets import decrypt, encrypt, generate_key
from models import DATABASES, Property

runner = CliRunner()
PASSWORD = "hunter2-Very-Secret"


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {
        f"DB_{key}_URL": f"sqlite:///{tmp_path / (name + '.db')}"
        for name, key in {
            "app": "APP",
            "chat": "CHAT",
            "management": "MANAGEMENT",
            "realestate": "REAL_ESTATE",
        }.items()
    }


def ok(args: list[str], env: dict[str, str] | None = None, data: str | None = None) -> str:
    result = runner.invoke(app, args, env=env, input=data)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def error(args: list[str], env: dict[str, str] | None = None, code: int = 2) -> str:
    """The one error line of a failing command, which exits with `code`."""
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, (result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["db"],
        ["db", "copy"],
        ["db", "upgrade"],
        ["db", "check"],
        ["records"],
        ["records", "list"],
        ["records", "put"],
        ["config", "encrypt"],
        ["demo"],
        ["tickets"],
        ["voice"],
    ],
    ids=" ".join,
)
def test_help_everywhere(args: list[str]) -> None:
    out = ok([*args, "--help"])
    assert "Usage" in out


def test_records_put_get_list_delete(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    acme = ["--user", "ann", "--mandate", "acme", "--privilege", "admin"]
    put = json.loads(
        ok(
            ["records", "put", "Property", *acme],
            env,
            data=json.dumps([{"id": "p1", "title": "Loft", "rooms": 2}, {"title": "Flat"}]),
        )
    )
    assert [p["mandateId"] for p in put] == ["acme", "acme"]
    assert put[0]["_createdBy"] == "ann"
    ok(["records", "put", "property", '{"id": "p9", "title": "Barn", "mandateId": "birch"}'], env)
    got = json.loads(ok(["records", "get", "Property", "p1", *acme], env))
    assert got["title"] == "Loft" and got["id"] == "p1"
    listed = json.loads(ok(["records", "list", "Property", "-w", "rooms__gte=2"], env))
    assert [p["id"] for p in listed] == ["p1"]
    scoped = json.loads(
        ok(["records", "list", "Property", "--where", "mandate_id__ne=acme", *acme], env)
    )
    assert scoped == []  # acme's admin never sees birch's barn
    everything = json.loads(ok(["records", "list", "Property", "--order-by", "title"], env))
    assert [p["title"] for p in everything] == ["Barn", "Flat", "Loft"]
    assert "p9" in error(["records", "get", "Property", "p9", *acme], env, code=3)
    assert json.loads(ok(["records", "delete", "Property", "p1", *acme], env)) == {"deleted": 1}
    deleted = json.loads(ok(["records", "delete", "Property", "-w", "title=Barn"], env))
    assert deleted == {"deleted": 1}


def test_records_errors_are_one_line(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    assert "known tables" in error(["records", "list", "Nope"], env)
    assert "unknown field" in error(["records", "list", "User", "-w", "shoe_size=3"], env)
    assert "field__op=value" in error(["records", "list", "User", "-w", "broken"], env)
    assert "not valid JSON" in error(["records", "put", "User", "{nope"], env)
    assert "username" in error(["records", "put", "User", '{"mandateId": "m"}'], env)
    assert "--mandate needs --user" in error(["records", "list", "User", "--mandate", "m"], env)
    foreign = '{"username": "x", "mandateId": "b"}'
    denied = error(["records", "put", "User", foreign, "--user", "u", "--mandate", "a"], env, 6)
    assert "cannot create records in mandate" in denied


def test_config_encrypt_round_trip() -> None:
    key = ok(["config", "encrypt", "--generate-key"]).strip()
    token = ok(["config", "encrypt", PASSWORD], env={"CONFIG_KEY": key}).strip()
    assert token.startswith("fernet:") and PASSWORD not in token
    assert decrypt(token, key, "X") == PASSWORD
    piped = ok(["config", "encrypt", "--key", key], data=PASSWORD + "\n").strip()
    assert decrypt(piped, key, "X") == PASSWORD
    assert "CONFIG_KEY is not set" in error(["config", "encrypt", PASSWORD])


def test_a_secret_never_appears_in_an_error_line(tmp_path: Path) -> None:
    key = generate_key()
    token = encrypt(PASSWORD, key)
    env = {"DB_APP_HOST": "db:5432", "DB_APP_PASSWORD_SECRET": token, "CONFIG_KEY": generate_key()}
    line = error(["db", "upgrade"], env)
    assert "DB_APP_PASSWORD_SECRET" in line
    assert PASSWORD not in line and token.removeprefix("fernet:")[:20] not in line
    # a connection failure with the password in the URL: nothing leaks either
    env = {"DB_APP_URL": f"postgresql+psycopg2://u:{PASSWORD}@127.0.0.1:9/app?connect_timeout=2"}
    result = runner.invoke(app, ["db", "check", "--db", "app"], env=env)
    assert result.exit_code == 5  # unavailable: try again later
    assert PASSWORD not in result.output and "error:" in result.stderr
    # a URL typed on the command line is masked too
    Path("app.db").touch()  # the source exists
    line = error(["db", "copy", "app", f"mysql://u:{PASSWORD}@h/db"], sqlite_env(Path(".")))
    assert "mysql://u:***@h/db" in line and PASSWORD not in line


def test_db_upgrade_check_and_copy_on_sqlite(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    out = ok(["db", "upgrade"], env)
    assert "alembic upgrade head" in out
    assert "no drift" in ok(["db", "check"], env)
    ok(
        [
            "records",
            "put",
            "User",
            '[{"username": "a", "mandateId": "m"}, {"username": "b", "mandateId": "n"}]',
        ],
        env,
    )
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    first = ok(["db", "copy", "app", target], env)
    assert "equal" in first and "differs" not in first
    again = ok(["db", "copy", env["DB_APP_URL"], target, "--tables", "User"], env)
    assert "equal" in again  # idempotent: ids already there are skipped
    copied = json.loads(ok(["records", "list", "User", "--url", target, "--order-by", "username"]))
    assert [u["username"] for u in copied] == ["a", "b"]
    assert "neither a database URL" in error(["db", "copy", "nowhere", target], env)
    assert "unknown database" in error(["db", "upgrade", "--db", "nope"], env)


def test_a_bug_in_a_command_keeps_its_traceback() -> None:
    buggy = sub_app("A group with a buggy command.")

    @buggy.command()
    def boom() -> None:
        raise RuntimeError("a bug, not a user error")

    @buggy.command()
    def other() -> None:
        """Keeps the group a group."""

    result = runner.invoke(buggy, ["boom"])
    assert isinstance(result.exception, RuntimeError)  # not turned into one line


def _commands(group: object, path: list[str]) -> list[list[str]]:
    found = [path]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, [*path, name])
    return found


def test_every_help_shows_no_type_labels_nor_rest_markup() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root, [])
    assert ["db", "copy"] in commands and ["voice", "serve"] in commands
    for args in commands:
        shown = ok([*args, "--help"])
        for bad in ("<bool>", "<str>", "<int>", "``", ":class:"):
            assert bad not in shown, (args, bad)
    assert "3 not found" in " ".join(ok(["--help"]).split())  # the exit codes


def test_version() -> None:
    assert ok(["--version"]).startswith("connectors ")


def test_every_logical_database_is_upgraded(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    out = ok(["db", "upgrade"], env)
    for name in DATABASES:
        assert name in out


def test_db_check_reports_and_repairs_a_damaged_json_store(tmp_path: Path) -> None:
    pytest.importorskip("repositories.jsonfile")
    store = tmp_path / "stores"
    env = {"DB_APP_HOST": str(store)}
    assert "layout ensured" in ok(["db", "upgrade", "--db", "app"], env)
    ok(["records", "put", "User", '{"id": "u1", "username": "ann", "mandateId": "m"}'], env)
    assert "ok" in ok(["db", "check", "--db", "app"], env)
    (store / "app" / "User" / "u1.json").write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["db", "check", "--db", "app"], env=env)
    assert result.exit_code == 7  # damaged data
    assert "corrupted file" in result.stdout and "check found problems in: app" in result.stderr


def test_config_and_env_options_select_the_files(tmp_path: Path) -> None:
    (tmp_path / "main.ini").write_text(f"DB_APP_URL = sqlite:///{tmp_path / 'dev.db'}\n")
    (tmp_path / "config.staging.ini").write_text(f"DB_APP_URL = sqlite:///{tmp_path / 'st.db'}\n")
    base = ["--config", str(tmp_path / "main.ini")]
    ok([*base, "records", "put", "Mandate", '{"id": "dev", "name": "Dev"}'])
    ok([*base, "--env", "staging", "records", "put", "Mandate", '{"id": "st", "name": "St"}'])
    dev = json.loads(ok([*base, "records", "list", "Mandate"]))
    staging = json.loads(ok([*base, "--env", "staging", "records", "list", "Mandate"]))
    assert [m["id"] for m in dev] == ["dev"] and [m["id"] for m in staging] == ["st"]
    assert "no config file" in error(["--config", str(tmp_path / "nope.ini"), "db", "upgrade"])


def test_upgrade_over_tables_alembic_did_not_make_is_one_clear_line(tmp_path: Path) -> None:
    from repositories import connect

    env = sqlite_env(tmp_path)
    db = connect(env["DB_APP_URL"])
    db.ensure_schema(*DATABASES["app"])  # tables without Alembic's version table
    db.close()
    line = error(["db", "upgrade", "--db", "app"], env, code=7)
    assert "app: alembic upgrade failed" in line and "already exists" in line


def test_copy_of_a_partial_source_skips_absent_tables(tmp_path: Path) -> None:
    from repositories import connect

    source = tmp_path / "mixed.db"
    db = connect(f"sqlite:///{source}")
    db.ensure_schema(*DATABASES["realestate"])
    db.repository(Property).create(Property(title="Loft", mandate_id="m"))
    db.close()
    out = ok(["db", "copy", f"sqlite:///{source}", f"sqlite:///{tmp_path / 'out.db'}"])
    assert "skipped User: no such table in the source" in out and "Property" in out
    import sqlite3

    with sqlite3.connect(source) as conn:  # reading created nothing in the source
        names = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert "User" not in names and "Property" in names


def test_records_put_merges_by_default_and_replaces_on_request(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    first = {"id": "p1", "title": "Loft", "rooms": 3, "city": "Bern", "mandateId": "acme"}
    ok(["records", "put", "Property", json.dumps(first)], env)
    merged = json.loads(ok(["records", "put", "Property", '{"id": "p1", "rooms": 4}'], env))
    assert (merged["title"], merged["rooms"], merged["city"]) == ("Loft", 4, "Bern")
    assert merged["mandateId"] == "acme"  # not moved to mandate ''
    replaced = json.loads(
        ok(["records", "put", "Property", '{"id": "p1", "title": "Barn"}', "--replace"], env)
    )
    assert replaced["title"] == "Barn" and replaced["rooms"] is None
    # an export read back in: audit fields are the repository's, ignored
    exported = json.loads(ok(["records", "get", "Property", "p1"], env))
    again = json.loads(ok(["records", "put", "Property", json.dumps(exported)], env))
    assert again["title"] == "Barn" and again["_createdBy"] == exported["_createdBy"]


def test_records_put_refuses_unknown_fields_and_writes_all_or_nothing(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    line = error(["records", "put", "Property", '{"title": "X", "colour": "red"}'], env)
    assert "no field 'colour'" in line
    batch = [{"id": "a", "title": "ok"}, {"id": "b", "title": "b", "rooms": "many"}]
    assert "rooms" in error(["records", "put", "Property", json.dumps(batch)], env)
    assert json.loads(ok(["records", "list", "Property"], env)) == []  # "a" was not written


def test_records_help_says_which_context_runs_it() -> None:
    assert "system context" in " ".join(ok(["records", "put", "--help"]).split())


def test_db_check_reports_every_database_and_json_for_probes(tmp_path: Path) -> None:
    env = {
        **sqlite_env(tmp_path),
        "DB_APP_URL": "postgresql+psycopg2://u@127.0.0.1:9/app?connect_timeout=2",
        "DB_CHAT_HOST": str(tmp_path / "stores"),
    }
    ok(["db", "upgrade", "--db", "chat", "--db", "management"], env)
    result = runner.invoke(app, ["db", "check", "--json"], env=env)
    assert result.exit_code == 5, result.output  # app is unreachable: try again later
    report = {r["database"]: r for r in json.loads(result.stdout)}
    assert set(report) == {"app", "chat", "management", "realestate"}
    assert report["app"]["unreachable"] and not report["app"]["ok"]
    assert report["chat"]["ok"] and report["management"]["ok"]
    assert not report["realestate"]["ok"]  # never upgraded: drift, reported all the same
