CREATE TABLE op_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    node          TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    operation     TEXT    NOT NULL,
    interval_ms   INTEGER NOT NULL,
    rc            INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    exit_reason   TEXT,
    call_id       INTEGER NOT NULL,
    started_ms    INTEGER NOT NULL,
    ended_ms      INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    transition_id TEXT
);
CREATE INDEX op_history_by_resource ON op_history (resource, node, id);
CREATE INDEX op_history_by_node ON op_history (node, id);
CREATE INDEX op_history_by_key ON op_history (resource, node, operation, interval_ms, id);
