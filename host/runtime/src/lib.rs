//! The sandboxed WASM agent runtime.
//!
//! One [`AgentEngine`] per process (pooling allocator, epoch deadlines, on-disk component cache);
//! each [`WasmAgent`] holds an `InstancePre` with exactly its granted capabilities linked, and
//! every action runs in a fresh store. A trap, timeout, memory blow-up or panic inside an agent
//! becomes an OCF error with a reason; the host keeps serving.

mod agent;
mod bindings;
mod cache;
mod capabilities;
mod engine;
mod error;
mod host_state;
pub mod manifest;
mod state_store;
mod wasi_http;

pub use agent::{AgentLimits, WasmAgent};
pub use cache::CacheOutcome;
pub use engine::{AgentEngine, EPOCH_TICK, RuntimeConfig};
pub use error::RuntimeError;
pub use host_state::HostServices;
pub use manifest::{AgentKind, Capability, Endpoint, Grants, Manifest};
pub use state_store::{AgentStateStore, DirStateStore, StateError};
