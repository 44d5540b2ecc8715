//! The sandboxed WASM agent runtime.
//!
//! One [`AgentEngine`] per process (pooling allocator, epoch deadlines, on-disk component cache);
//! each [`WasmAgent`] (resource agent) or [`WasmFenceAgent`] holds an `InstancePre` with exactly
//! its granted capabilities linked, and every call runs in a fresh store. A trap, timeout, memory
//! blow-up or panic inside an agent becomes an error with a reason (an OCF error for resource
//! agents, `AgentError::Run` for fence agents); the host keeps serving.

mod agent;
mod bindings;
mod cache;
mod capabilities;
mod convert;
mod engine;
mod error;
mod fence_agent;
mod host_state;
pub mod manifest;
mod prepared;
mod state_store;
mod wasi_http;

pub use agent::WasmAgent;
pub use cache::CacheOutcome;
pub use engine::{AgentEngine, EPOCH_TICK, RuntimeConfig};
pub use error::RuntimeError;
pub use fence_agent::WasmFenceAgent;
pub use host_state::HostServices;
pub use manifest::{AgentKind, Capability, Endpoint, Grants, Manifest};
pub use prepared::AgentLimits;
pub use state_store::{AgentStateStore, DirStateStore, StateError};
