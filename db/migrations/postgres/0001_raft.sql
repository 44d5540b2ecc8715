-- Raft storage. SQL has no unsigned 64-bit integer: indexes and terms are stored as
-- BIGINT and the crate rejects values above i64::MAX.
CREATE TABLE raft_log (
    log_index BIGINT PRIMARY KEY,
    term      BIGINT NOT NULL,
    payload   BYTEA  NOT NULL
);

-- Exactly one row: the vote, the committed log id and the last purged log id.
CREATE TABLE raft_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    vote_term       BIGINT,
    vote_node       BIGINT,
    vote_committed  BOOLEAN,
    committed_index BIGINT,
    committed_term  BIGINT,
    purged_index    BIGINT,
    purged_term     BIGINT
);
INSERT INTO raft_state (id) VALUES (1);

-- At most one row: the latest snapshot, replaced in one statement.
CREATE TABLE raft_snapshot (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    meta TEXT  NOT NULL,
    data BYTEA NOT NULL
);
