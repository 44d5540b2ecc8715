-- details is TEXT, not JSONB: the JSON is returned exactly as it was given.
CREATE TABLE cluster_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    node     TEXT,
    kind     TEXT   NOT NULL,
    severity TEXT   NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    message  TEXT   NOT NULL,
    details  TEXT   NOT NULL
);
CREATE INDEX cluster_events_by_time ON cluster_events (at_ms, id);
CREATE INDEX cluster_events_by_kind ON cluster_events (kind, at_ms);
CREATE INDEX cluster_events_by_node ON cluster_events (node, at_ms);
