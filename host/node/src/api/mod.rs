//! The HTTP API every node serves, and what it answers with.
//!
//! ```text
//! GET  /v1/status                          crm_mon's sections (StatusReport)
//! GET  /v1/cib                             the whole CIB as XML
//! GET  /v1/configuration                   configuration as XML and crm syntax
//! POST /v1/configuration                   load a configuration (crm or XML text)
//! GET  /v1/configuration/history[?limit=]  changes: version, who, when, what
//! GET  /v1/configuration/history/VERSION   one change with its diff
//! POST /v1/edit                            property, target-role, move/ban/clear, standby
//! POST /v1/cleanup                         forget a resource's failures and history
//! GET  /v1/resources/RSC/explain           where it runs, where it would, and why
//! POST /v1/members                         add a node to the voters
//! POST /v1/members/NAME/remove             take a node out of the voters
//! GET  /v1/pe-inputs/N                     a saved scheduler input of this node
//! POST /v1/fence                           queue fencing of a node (the DC runs it)
//! GET  /v1/fence/history                   fencing operations, pending and finished
//! ```

pub mod report;
pub mod server;
pub mod types;

/// What the API's bearer token is derived for, from the cluster key.
pub const API_TOKEN_PURPOSE: &str = "atrium http api v1";
