//! The host capabilities, one module each, and linking only the granted ones.

mod clock;
mod exec;
mod http;
mod log;
mod node_attributes;
mod state;
pub(crate) mod wasi_clock;

use crate::bindings::atrium::agent as wit;
use crate::host_state::HostState;
use crate::manifest::{Capability, Grants};
use wasmtime::component::{HasSelf, Linker};

/// Adds the granted capabilities (and the shared types) to a linker. An ungranted capability is
/// simply absent, so a component importing it cannot be instantiated; the loader checks this
/// first to give a clear error.
pub fn link_granted(linker: &mut Linker<HostState>, grants: &Grants) -> wasmtime::Result<()> {
    wit::types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    for cap in &grants.capabilities {
        match cap {
            Capability::Log => wit::log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?,
            Capability::State => wit::state::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?,
            Capability::Clock => wit::clock::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?,
            Capability::NodeAttributes => {
                wit::node_attributes::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?
            }
            Capability::Exec => wit::exec::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?,
            Capability::Http => wit::http::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?,
        }
    }
    Ok(())
}

impl wit::types::Host for HostState {}
