CREATE TABLE config_history (
    version    INTEGER PRIMARY KEY NOT NULL,
    actor_kind TEXT    NOT NULL CHECK (actor_kind IN ('user', 'node')),
    actor      TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    summary    TEXT    NOT NULL,
    diff       TEXT    NOT NULL,
    config     TEXT    NOT NULL
);
