"""`iter()` on the JSON store reads each batch when it is reached.

In id order under a filter the index answers, the candidates' ids are taken when the
iteration starts and each batch's records are read (from the cache or the files) when
the batch is reached. Writes between two batches, by this process (same cache) or
through another store view (its own cache, as another process would), must never put a
row outside the caller's scope or conditions into the stream: a record deleted meanwhile
is skipped, one moved to another mandate or renamed is skipped, one changed in a field
the query does not name comes as it is then, one created meanwhile is not included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models import User
from repositories import Context
from repositories.jsonfile import JsonDatabase


def seeded(path: Path) -> JsonDatabase:
    db = JsonDatabase(f"jsonfile://{path}", durability="none")
    db.repository(User).create_many(
        [
            User(id=f"u{i:03d}", username="common" if i % 3 else "rare", mandate_id="AB"[i % 2])
            for i in range(120)
        ]
    )
    return db


@pytest.mark.parametrize("writer_kind", ["same cache", "another view"])
def test_writes_between_batches_never_put_a_foreign_row_in_the_stream(
    tmp_path: Path, writer_kind: str
) -> None:
    system = seeded(tmp_path)
    if writer_kind == "another view":  # its own cache: learns of the writes from the files
        system.close()
        system = JsonDatabase(f"jsonfile://{tmp_path}", durability="none")
    writer = system.repository(User)
    reader = system.with_context(Context("reader", "A", "user")).repository(User)
    wanted = [u.id for u in writer.find({"mandate_id": "A", "username": "common"})]
    assert len(wanted) == 40

    stream = reader.batches({"username": "common"}, batch_size=5)
    first = next(stream)
    assert [u.id for u in first] == wanted[:5]
    later = wanted[5:]
    moved, renamed, deleted, edited = later[0], later[3], later[10], later[20]
    writer.update(moved, {"mandate_id": "B"})
    writer.update(renamed, {"username": "rare"})
    writer.delete(deleted)
    writer.update(edited, {"email": "new@example.com"})
    writer.create(User(id="u000a", username="common", mandate_id="A"))  # sorts among the rest
    writer.create(User(id="u999", username="common", mandate_id="A"))
    rest = [u for batch in stream for u in batch]

    assert all(u.mandate_id == "A" and u.username == "common" for u in rest), rest
    assert [u.id for u in rest] == [r for r in later if r not in (moved, renamed, deleted)]
    assert next(u for u in rest if u.id == edited).email == "new@example.com"
    system.close()


def test_a_stream_in_another_order_or_on_an_unindexed_field_reads_everything_first(
    tmp_path: Path,
) -> None:
    db = seeded(tmp_path)
    users = db.repository(User)
    stream = users.batches({"mandate_id": "A"}, batch_size=5, order_by=["-id"])
    first = next(stream)
    users.delete(first[-1].id)  # already streamed
    users.delete("u000")  # still to come: a sorted stream was read before it began
    rest = [u.id for batch in stream for u in batch]
    assert rest[-1] == "u000" and len(first) + len(rest) == 60
    db.close()


def test_a_record_file_edited_by_hand_mid_stream_is_checked_again(tmp_path: Path) -> None:
    db = seeded(tmp_path)
    db.close()
    reader = (
        JsonDatabase(f"jsonfile://{tmp_path}", durability="none")
        .with_context(Context("reader", "A", "user"))
        .repository(User)
    )
    stream = reader.batches(batch_size=10)
    first = next(stream)
    target = tmp_path / "User" / "u098.json"  # mandate A, not yet streamed
    target.write_text(target.read_text().replace('"mandateId":"A"', '"mandateId":"B"'))
    rest = [u for batch in stream for u in batch]
    ids = [u.id for u in first + rest]
    assert "u098" not in ids and len(ids) == 59
    assert all(u.mandate_id == "A" for u in first + rest)
