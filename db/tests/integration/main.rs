//! atrium-db integration tests. Every store test runs on SQLite and on PostgreSQL
//! (ATRIUM_TEST_POSTGRES_URL; see common.rs).

mod common;

mod concurrency;
mod config_history;
mod durability;
mod events;
mod open_errors;
mod op_history;
mod raft_store;
