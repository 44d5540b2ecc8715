CREATE TABLE cluster_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms    INTEGER NOT NULL,
    node     TEXT,
    kind     TEXT    NOT NULL,
    severity TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    message  TEXT    NOT NULL,
    details  TEXT    NOT NULL
);
CREATE INDEX cluster_events_by_time ON cluster_events (at_ms, id);
CREATE INDEX cluster_events_by_kind ON cluster_events (kind, at_ms);
CREATE INDEX cluster_events_by_node ON cluster_events (node, at_ms);
