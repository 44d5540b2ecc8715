//! What one action's store holds: the WASI context (deny-by-default), the memory limiter and the
//! environment the capabilities serve from.

use crate::capabilities::wasi_clock::StoreClock;
use crate::manifest::Grants;
use crate::wasi_http::DenyAllRequests;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use crate::state_store::AgentStateStore;
use atrium_contract::NodeAttributeStore;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Largest table an agent may grow (function references); far above what real agents need,
/// low enough that a table bomb cannot eat host memory.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Largest amount of guest stdout/stderr kept for the log per action.
const CAPTURE_LIMIT: usize = 64 * 1024;

/// Where the capabilities of one agent reach: shared by all actions of that agent on a node.
#[derive(Clone)]
pub struct HostServices {
    pub node_name: Arc<str>,
    pub state: Arc<dyn AgentStateStore>,
    pub attributes: Arc<dyn NodeAttributeStore>,
}

/// Per-action environment the capability implementations read.
pub struct CallEnv {
    pub agent: Arc<str>,
    pub instance: String,
    pub deadline: Instant,
    pub services: HostServices,
    pub grants: Arc<Grants>,
}

/// Caps a store's memory and remembers that the cap was hit, so a trap that follows is
/// reported as a memory blow-up rather than a bare "unreachable".
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: DenyAllRequests,
    table: ResourceTable,
    pub clock: StoreClock,
    pub limiter: MemoryLimiter,
    pub env: CallEnv,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

impl HostState {
    pub fn new(env: CallEnv, max_memory: usize) -> HostState {
        let stdout = MemoryOutputPipe::new(CAPTURE_LIMIT);
        let stderr = MemoryOutputPipe::new(CAPTURE_LIMIT);
        // No preopens, no environment, no arguments, no sockets and no name lookup: a guest
        // toolchain may import these interfaces, but every call is refused.
        let clock = StoreClock { start: std::time::Instant::now() };
        let wasi = WasiCtx::builder()
            .monotonic_clock(clock)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        HostState {
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks: DenyAllRequests,
            table: ResourceTable::new(),
            clock,
            limiter: MemoryLimiter { max_bytes: max_memory, hit: false },
            env,
            stdout,
            stderr,
        }
    }

    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Time left before the action's deadline.
    pub fn remaining(&self) -> std::time::Duration {
        self.env.deadline.saturating_duration_since(Instant::now())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { hooks: &mut self.http_hooks, table: &mut self.table, ctx: &mut self.http }
    }
}
