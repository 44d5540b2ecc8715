//! atrium-db integration tests. Every store test runs on SQLite and on PostgreSQL
//! (ATRIUM_TEST_POSTGRES_URL; see common.rs).

mod common;

mod concurrency;
mod config_history;
mod durability;
mod events;
mod op_history;
mod open_errors;
mod raft_store;
