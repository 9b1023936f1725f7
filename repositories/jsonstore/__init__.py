"""Building blocks of the JSON-file backend (`repositories.jsonfile`).

- `files`: names that cannot escape the store, JSON encoding, reading, fingerprints.
- `atomic`: temp file, fsync, verify, replace; room reserved for journal lines.
- `locks`: the per-table inter-process lock with a timeout and a holder-pid side file
  that doubles as the "a writer died here" marker.
- `journal`: the ``_metadata.json`` snapshot and ``_journal.jsonl`` formats (checksummed).
- `index`: ids, secondary indexes and fingerprints in memory; query plans.
- `writes`: the in-memory view of a table and every change to its files (announce,
  change, commit).
- `table`: that view kept in step with the directory and other processes, loading and
  recovery, and reading rows checked against what the index claims.
- `repository`: `JsonRepository`, the storage primitives on one table.
- `store`: what the contexts of one store share, and transactions.
- `check`: `check(path, repair=False)`, the consistency report behind ``connectors db check``.
"""
