CREATE TABLE op_history (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node          TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    operation     TEXT    NOT NULL,
    interval_ms   BIGINT  NOT NULL,
    rc            INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    exit_reason   TEXT,
    call_id       BIGINT  NOT NULL,
    started_ms    BIGINT  NOT NULL,
    ended_ms      BIGINT  NOT NULL,
    duration_ms   BIGINT  NOT NULL,
    transition_id TEXT
);
CREATE INDEX op_history_by_resource ON op_history (resource, node, id);
CREATE INDEX op_history_by_node ON op_history (node, id);
CREATE INDEX op_history_by_key ON op_history (resource, node, operation, interval_ms, id);
