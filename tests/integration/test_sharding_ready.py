"""What sharding by tenant (Citus, ``docs/scaling.md``) needs from the schema and the
queries, checked here without Citus: the server's own log of every statement a tenant
context sends shows each read, update and delete filtered by that tenant's mandate (a
single-shard query), and the schema has nothing a distributed table cannot keep."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import UniqueConstraint

from models import DATABASES, Mandate, Property, User
from models.schema import model_info
from models.tables import metadata_for
from repositories import Context, connect
from repositories.pgtesting import Cluster, cluster
from tests.conftest import IN_CI

pytestmark = pytest.mark.postgres

ALL = [m for models in DATABASES.values() for m in models]
TENANT = Context("ann", "m1", "admin")


@pytest.fixture(scope="module")
def logged() -> Iterator[Cluster]:
    try:
        with cluster({"log_statement": "all", "log_line_prefix": "@@%a@@"}) as server:
            yield server
    except FileNotFoundError as exc:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL's server binaries: {exc}")
        pytest.skip(str(exc))


def statements(server: Cluster, application: str) -> list[str]:
    log = (server.workdir / "server.log").read_text(errors="replace")
    entries = re.split(r"^(?=@@)", log, flags=re.M)
    prefix = f"@@{application}@@LOG:  statement: "
    return [e[len(prefix) :] for e in entries if e.startswith(prefix)]


def test_every_tenant_statement_names_its_mandate(logged: Cluster) -> None:
    setup = connect(logged.url(), create_tables=True, application_name="setup")
    setup.ensure_schema(*ALL)
    setup.repository(Mandate).create(Mandate(id="m1", name="Acme"))
    setup.repository(Property).create_many(
        [Property(title=f"p{i}", mandate_id="m1" if i % 2 else "m2", rooms=i) for i in range(30)]
    )
    setup.close()

    db = connect(logged.url(), application_name="tenant-probe", context=TENANT)
    props = db.repository(Property)
    flat = props.create(Property(title="Flat", rooms=3))
    props.create_many([Property(title="Loft", rooms=2), Property(title="Barn", city="Bern")])
    props.get(flat.id)
    props.find(where={"rooms__gte": 2}, order_by=["-rooms"], limit=5, offset=1)
    props.find(where={"features__contains": {"garden": True}})
    page = props.page(order_by=["-rooms", "title"], limit=4)
    props.page(order_by=["-rooms", "title"], limit=4, after=page.next)
    list(props.iter(batch_size=3))
    props.count({"city": "Bern"})
    props.update(flat.id, {"rooms": 4}, expected_modified_at=props.get(flat.id).modified_at)  # type: ignore[union-attr]
    props.upsert(flat.model_copy(update={"title": "Flat 2"}))
    with db.transaction():
        props.update(flat.id, {"city": "Basel"})
        props.delete_many({"title": "Barn"})
    props.delete(flat.id)
    db.repository(Mandate).get("m1")  # a Mandate record is scoped by its own id
    db.repository(User).find()
    db.close()

    sent = statements(logged, "tenant-probe")
    tenant_tables = {model_info(m).table for m in ALL if model_info(m).tenant is not None}
    checked = 0
    for statement in sent:
        verb = statement.lstrip("( ").split(None, 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE"):
            continue  # INSERT/COPY carry the mandate in the row; BEGIN, SAVEPOINT...
        for table in re.findall(r'(?:FROM|UPDATE) "(\w+)"', statement):
            scope = "id" if table == "Mandate" else "mandateId"
            if table in tenant_tables or table == "Mandate":
                assert re.search(rf'"{table}"\."?{scope}"? = \'m1\'', statement), statement
                checked += 1
        if "UNION ALL" in statement:  # a keyset page: every segment is filtered
            segments = statement.count('FROM "Property"')
            assert statement.count("\"mandateId\" = 'm1'") >= segments, statement
    assert checked >= 15, sent  # the calls above really were logged and checked
    assert any("UNION ALL" in statement for statement in sent)


def test_the_schema_holds_nothing_a_distributed_table_cannot_keep() -> None:
    metadata = metadata_for(ALL)
    for table in metadata.tables.values():
        assert not table.foreign_keys, table.name  # none to colocate or reference
        unique = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
        assert not unique and not any(i.unique for i in table.indexes), table.name
        assert all(c.autoincrement is not True for c in table.columns), table.name
    for model in ALL:
        info = model_info(model)
        if info.tenant is not None:  # the distribution column: never NULL
            column = metadata.tables[info.table].c[info.tenant.storage]
            assert column.nullable is False, info.table
        assert [c.name for c in metadata.tables[info.table].primary_key] == ["id"]


def test_scaling_doc_names_every_table() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "scaling.md").read_text(encoding="utf-8")
    for model in ALL:
        assert f"`{model_info(model).table}`" in doc
