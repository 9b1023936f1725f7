"""Property-based access scoping: random contexts run random operations on every backend.

After each operation the system context's view (the truth) is compared with what the
scoping rules allow:

- reads (get, find, count, iter) return only records of the caller's mandate;
- a write succeeds only on records of the caller's mandate, and for a `user` only on
  records it created; any refused or invisible target is left byte-for-byte unchanged;
- nothing ever moves to another mandate, and the audit fields are exactly the
  repository's: ``_createdBy``/``_createdAt`` never change, ``_modifiedBy`` is the caller.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Mandate, Property
from repositories import Context, Database, RepositoryError

MANDATES = ["A", "B", "C"]
CONTEXTS = [
    Context(f"{privilege}-{mandate}-{n}", mandate, privilege)  # type: ignore[arg-type]
    for mandate in MANDATES
    for privilege in ("admin", "user")
    for n in (1, 2)
] + [Context("root", None, "sysadmin")]

contexts = st.sampled_from(CONTEXTS)
mandate_values = st.sampled_from([*MANDATES, "", "Z"])
filters = st.one_of(
    st.just({}),
    st.builds(lambda m: {"mandate_id": m}, mandate_values),
    st.builds(lambda m: {"mandate_id__ne": m}, mandate_values),
    st.builds(lambda ms: {"mandate_id__in": ms}, st.lists(mandate_values, max_size=3)),
    st.builds(lambda b: {"mandate_id__isnull": b}, st.booleans()),
    st.builds(lambda c: {"created_by": c.user_id}, contexts),
    st.builds(lambda t: {"title__in": t}, st.lists(st.sampled_from("abc"), max_size=2)),
)
forged_audit = st.fixed_dictionaries(
    {},
    optional={
        "_createdBy": st.sampled_from(["root", "mallory"]),
        "created_at": st.floats(0, 10),
        "modified_by": st.just("mallory"),
        "_modifiedAt": st.floats(0, 10),
    },
)
operations = st.one_of(
    st.tuples(st.just("create"), contexts, mandate_values, st.sampled_from("abc"), forged_audit),
    st.tuples(
        st.just("update"), contexts, st.integers(0, 50), st.sampled_from("abc"), forged_audit
    ),
    st.tuples(st.just("move"), contexts, st.integers(0, 50), mandate_values),
    st.tuples(st.just("upsert"), contexts, st.integers(0, 50), mandate_values, forged_audit),
    st.tuples(st.just("delete"), contexts, st.integers(0, 50)),
    st.tuples(st.just("delete_many"), contexts, filters),
    st.tuples(st.just("read"), contexts, filters, st.integers(0, 50)),
)


def truth(db: Database) -> dict[str, Property]:
    return {p.id: p for p in db.repository(Property).find()}


def may_write(ctx: Context, record: Property) -> bool:
    if ctx.is_sysadmin:
        return True
    if record.mandate_id != ctx.mandate_id:
        return False
    return ctx.privilege == "admin" or record.created_by == ctx.user_id


def pick(before: dict[str, Property], index: int) -> Property | None:
    ids = sorted(before)
    return before[ids[index % len(ids)]] if ids else None


def check_write(
    ctx: Context,
    before: dict[str, Property],
    after: dict[str, Property],
    allowed_ids: set[str],
) -> None:
    """Changes only to writable records, audit fields intact, no mandate moved."""
    for record_id, old in before.items():
        new = after.get(record_id)
        if new == old:
            continue
        assert record_id in allowed_ids, f"{ctx} changed {old} (not allowed)"
        assert may_write(ctx, old), f"{ctx} changed a record it may not: {old}"
        if new is not None:
            assert new.mandate_id == old.mandate_id or ctx.is_sysadmin
            assert (new.created_by, new.created_at) == (old.created_by, old.created_at)
            assert new.modified_by == ctx.user_id
            assert new.modified_at is not None and new.modified_at > (old.modified_at or 0)
    for record_id, new in after.items():
        if record_id not in before:  # created by this operation
            assert new.created_by == new.modified_by == ctx.user_id
            assert new.created_at is not None and new.created_at > 10
            assert ctx.is_sysadmin or new.mandate_id == ctx.mandate_id


def visible(ctx: Context, record: Property) -> bool:
    return ctx.is_sysadmin or record.mandate_id == ctx.mandate_id


def run(db: Database, op: tuple[Any, ...]) -> None:
    kind, ctx = op[0], op[1]
    repo = db.with_context(ctx).repository(Property)
    before = truth(db)
    allowed: set[str] = set()
    expect_ok: bool | None = None  # None: either outcome is legitimate
    error: RepositoryError | None = None
    target = pick(before, op[2]) if kind in ("update", "move", "upsert", "delete") else None
    try:
        if kind == "create":
            _, _, mandate, title, audit = op
            expect_ok = mandate == ctx.mandate_id or (mandate == "" and not ctx.is_sysadmin)
            expect_ok = expect_ok or (ctx.is_sysadmin and mandate != "")
            repo.create(Property(title=title, mandate_id=mandate, **audit))
        elif target is not None:
            allowed = {target.id}
            if kind == "update":
                expect_ok = may_write(ctx, target)
                repo.update(target.id, {"title": op[3], **op[4]})
            elif kind == "move":
                expect_ok = may_write(ctx, target) and (ctx.is_sysadmin or op[3] == ctx.mandate_id)
                repo.update(target.id, {"mandate_id": op[3]})
            elif kind == "upsert":
                repo.upsert(target.model_copy(update={"mandate_id": op[3], **op[4]}))
            else:
                deleted = repo.delete(target.id)
                assert deleted == may_write(ctx, target)
                expect_ok = may_write(ctx, target) or not visible(ctx, target)
        elif kind == "delete_many":
            allowed = set(before)
            expect_ok = True
            repo.delete_many(op[2])
        elif kind == "read":
            where, index = op[2], op[3]
            expect_ok = True
            seen = {p.id for p in before.values() if visible(ctx, p)}
            found = {p.id for p in repo.find(where)}
            assert found <= seen
            assert repo.count(where) == len(found)
            assert {p.id for p in repo.iter(where, batch_size=3)} == found
            probe = pick(before, index)
            if probe is not None:
                assert (repo.get(probe.id) is not None) == visible(ctx, probe)
    except RepositoryError as exc:  # a refusal: the state below must show no change
        error = exc
    if expect_ok is not None:
        assert (error is None) == expect_ok, f"{kind} by {ctx} on {target}: {error!r}"
    check_write(ctx, before, truth(db), allowed)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_random_operations_respect_scoping(db: Database, ops: list[tuple[Any, ...]]) -> None:
    # one database for every example (state accumulates; each check is against a snapshot)
    for op in ops:
        run(db, op)


mandate_ops = st.tuples(
    st.sampled_from(["get", "find", "update", "delete", "upsert", "create"]),
    contexts,
    st.sampled_from([*MANDATES, "Z"]),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(mandate_ops, min_size=1, max_size=10))
def test_mandate_records_are_their_own_tenant(
    db: Database, ops: list[tuple[str, Context, str]]
) -> None:
    system = db.repository(Mandate)
    for mandate in MANDATES:
        if system.get(mandate) is None:
            system.create(Mandate(id=mandate, name=mandate))
    for kind, ctx, target in ops:
        repo = db.with_context(ctx).repository(Mandate)
        before = {m.id: m for m in system.find()}
        own = ctx.is_sysadmin or target == ctx.mandate_id
        try:
            if kind == "get":
                assert (repo.get(target) is not None) == (own and target in before)
            elif kind == "find":
                seen = {m.id for m in repo.find({"id__in": [target, *MANDATES]})}
                assert ctx.is_sysadmin or seen <= {ctx.mandate_id}
            elif kind == "update":
                repo.update(target, {"name": f"by {ctx.user_id}"})
            elif kind == "delete":
                repo.delete(target)
            elif kind == "upsert":
                repo.upsert(Mandate(id=target, name=f"by {ctx.user_id}"))
            else:
                repo.create(Mandate(id=f"{target}-{ctx.user_id}", name="new"))
        except RepositoryError:
            pass  # refused: the truth below must be unchanged where not allowed
        after = {m.id: m for m in system.find()}
        for mandate_id in set(before) | set(after):
            if before.get(mandate_id) != after.get(mandate_id):
                # only a sysadmin deletes a mandate (as only it creates one) ...
                assert mandate_id in after or ctx.is_sysadmin, (kind, ctx, mandate_id)
                # ... and only a sysadmin, or the admin of that very mandate, changes one
                assert ctx.is_sysadmin or (
                    ctx.privilege == "admin" and mandate_id == ctx.mandate_id
                ), (kind, ctx, mandate_id)
