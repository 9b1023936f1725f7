"""Building blocks of the JSON-file backend (`repositories.jsonfile`).

- `files`: names that cannot escape the store, JSON encoding, atomic durable writes.
- `locks`: the per-table inter-process lock with a timeout and a holder-pid side file
  that doubles as the "a writer died here" marker.
- `table`: the in-memory table (ids, secondary indexes, lazily loaded rows) kept in step
  with the directory through ``_metadata.json`` (a snapshot) and ``_journal.jsonl``.
- `journal`: the ``_metadata.json`` snapshot and ``_journal.jsonl`` formats.
- `index`: ids and secondary indexes in memory.
- `repository`: `JsonRepository`, the storage primitives on one table.
- `store`: what the contexts of one store share, and transactions.
- `check`: `check(path, repair=False)`, the consistency report behind ``connectors db check``.
"""
