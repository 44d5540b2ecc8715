-- Raft storage. SQL has no unsigned 64-bit integer: indexes and terms are stored as
-- INTEGER (signed 64-bit) and the crate rejects values above i64::MAX.
CREATE TABLE raft_log (
    log_index INTEGER PRIMARY KEY NOT NULL,
    term      INTEGER NOT NULL,
    payload   BLOB    NOT NULL
);

-- Exactly one row: the vote, the committed log id and the last purged log id.
CREATE TABLE raft_state (
    id              INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    vote_term       INTEGER,
    vote_node       INTEGER,
    vote_committed  INTEGER,
    committed_index INTEGER,
    committed_term  INTEGER,
    purged_index    INTEGER,
    purged_term     INTEGER
);
INSERT INTO raft_state (id) VALUES (1);

-- At most one row: the latest snapshot, replaced in one statement.
CREATE TABLE raft_snapshot (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    meta TEXT NOT NULL,
    data BLOB NOT NULL
);
