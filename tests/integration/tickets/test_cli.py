"""`connectors tickets …` end to end: env settings, real HTTP to the fakes, sync state on disk."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from connectors.cli.tickets import app

MAPPING = """
name: jira-cli
connector_type: jira
key_field: key
fields:
  key: {path: key, direction: read}
  summary: {path: fields.summary}
  body: {path: fields.description, transform: adf_to_markdown}
"""


@pytest.fixture
def jira_env(jira_url, monkeypatch, tmp_path):
    fake, url = jira_url
    monkeypatch.setenv("JIRA_API_URL", url)
    monkeypatch.setenv("JIRA_API_USERNAME", "ada@example.com")
    monkeypatch.setenv("JIRA_API_TOKEN_SECRET", "jira-token")
    monkeypatch.setenv("JIRA_PROJECT_CODE", "PRJ")
    monkeypatch.setenv("JIRA_TICKET_TYPE", "Task")
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables: no truncated cells
    (tmp_path / "def.yaml").write_text(MAPPING)
    return fake


def test_fields(jira_env, tmp_path) -> None:
    result = CliRunner().invoke(app, ["fields", "--mapping", str(tmp_path / "def.yaml")])
    assert result.exit_code == 0, result.output
    assert "customfield_10010" in result.output and "Acceptance Criteria" in result.output
    assert "jira-token" not in result.output


def test_export_csv_and_json(jira_env, tmp_path) -> None:
    jira_env.add_issue("One", description="*hi*")
    jira_env.add_issue("Two")
    runner = CliRunner()
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["export", "-m", str(tmp_path / "def.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        assert [r["summary"] for r in csv.DictReader(handle)] == ["One", "Two"]
    result = runner.invoke(app, ["export", "-m", str(tmp_path / "def.yaml"), "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"key": "PRJ-1", "summary": "One", "body": "*hi*"}]


def test_sync_round_trip_with_state_on_disk(jira_env, tmp_path) -> None:
    issue = jira_env.add_issue("One")
    state = f"sqlite:///{tmp_path / 'state.db'}"
    records = tmp_path / "records.json"
    records.write_text("[]")
    merged = tmp_path / "merged.json"
    args = [
        "sync",
        "-m",
        str(tmp_path / "def.yaml"),
        "-r",
        str(records),
        "--mandate",
        "m1",
        "--state-url",
        state,
        "-o",
        str(merged),
    ]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "in: 1" in first.stdout
    rows = json.loads(merged.read_text())
    rows[0]["summary"] = "One, edited locally"
    records.write_text(json.dumps(rows))
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert "dry run: out: 1 planned" in dry.stdout
    assert jira_env.issues[issue]["fields"]["summary"] == "One"
    second = runner.invoke(app, args)
    assert "out: 1 updated" in second.stdout, second.output
    assert jira_env.issues[issue]["fields"]["summary"] == "One, edited locally"


def test_missing_settings_and_bad_credentials(jira_env, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN_SECRET", "wrong-secret-value")
    result = CliRunner().invoke(app, ["export", "-m", str(tmp_path / "def.yaml")])
    assert result.exit_code == 6  # access denied
    assert "error: " in result.output and "wrong-secret-value" not in result.output
    monkeypatch.delenv("JIRA_PROJECT_CODE")
    result = CliRunner().invoke(app, ["export", "-m", str(tmp_path / "def.yaml")])
    assert result.exit_code == 2 and "JIRA_PROJECT_CODE" in result.output


def test_settings_from_config_ini_with_an_encrypted_token(jira_env, tmp_path, monkeypatch) -> None:
    from connectors.secrets import encrypt, generate_key

    key = generate_key()
    token = encrypt("jira-token", key)
    (tmp_path / "config.ini").write_text(
        f"JIRA_API_TOKEN_SECRET = {token}\nJIRA_PROJECT_CODE = PRJ\nCONFIG_KEY = {key}\n"
    )
    monkeypatch.setenv("CONNECTORS_CONFIG", str(tmp_path / "config.ini"))
    monkeypatch.delenv("JIRA_API_TOKEN_SECRET")
    monkeypatch.delenv("JIRA_PROJECT_CODE")
    jira_env.add_issue("From ini")
    result = CliRunner().invoke(app, ["export", "-m", str(tmp_path / "def.yaml")])
    assert result.exit_code == 0, result.output
    assert "From ini" in result.output and token not in result.output
    monkeypatch.setenv("JIRA_PROJECT_CODE", "OTHER")  # the environment wins over the file
    result = CliRunner().invoke(app, ["export", "-m", str(tmp_path / "def.yaml")])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_the_root_config_option_reaches_the_tickets_commands(
    jira_env, tmp_path, monkeypatch
) -> None:
    from connectors.cli import app as root

    (tmp_path / "other.ini").write_text("JIRA_PROJECT_CODE = FROMFILE\n")
    monkeypatch.delenv("JIRA_PROJECT_CODE")
    jira_env.add_issue("Somewhere")
    args = ["tickets", "export", "-m", str(tmp_path / "def.yaml")]
    missing = CliRunner().invoke(root, args)
    assert missing.exit_code == 2 and "JIRA_PROJECT_CODE" in missing.output
    result = CliRunner().invoke(root, ["--config", str(tmp_path / "other.ini"), *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []  # project FROMFILE has no issues: X was read


def test_clickup_export(clickup_url, monkeypatch, tmp_path) -> None:
    fake, url = clickup_url
    fake.add_task("a task", **{"cf-severity": 1})
    monkeypatch.setenv("CLICKUP_API_TOKEN_SECRET", "pk_test")
    monkeypatch.setenv("CLICKUP_TEAM_ID", "900")
    monkeypatch.setenv("CLICKUP_LIST_ID", "901")
    monkeypatch.setenv("CLICKUP_API_URL", url)
    (tmp_path / "cu.json").write_text(
        json.dumps(
            {
                "name": "cu",
                "key_field": "id",
                "fields": {
                    "id": {"path": "id", "direction": "read"},
                    "name": {"path": "name"},
                    "severity": {
                        "path": "custom_fields[name=Severity].value",
                        "transform": "option_name_to_id",
                    },
                },
            }
        )
    )
    result = CliRunner().invoke(app, ["export", "-m", str(tmp_path / "cu.json"), "-c", "ClickUp"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"id": "t00001", "name": "a task", "severity": "High"}]


def test_a_malformed_mapping_is_one_line_with_its_line(jira_env, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfields:\n  a: {path: [unclosed\n")
    result = CliRunner().invoke(app, ["export", "-m", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not valid YAML: line 4" in lines[0] and str(bad) in lines[0]
