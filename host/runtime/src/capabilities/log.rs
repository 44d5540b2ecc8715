use crate::bindings::atrium::agent::log::{Host, Level};
use crate::host_state::HostState;

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let (agent, instance) = (&*self.env.agent, self.env.instance.as_str());
        match level {
            Level::Trace => tracing::trace!(target: "agent", agent, instance, "{message}"),
            Level::Debug => tracing::debug!(target: "agent", agent, instance, "{message}"),
            Level::Info => tracing::info!(target: "agent", agent, instance, "{message}"),
            Level::Warn => tracing::warn!(target: "agent", agent, instance, "{message}"),
            Level::Error => tracing::error!(target: "agent", agent, instance, "{message}"),
        }
    }
}
