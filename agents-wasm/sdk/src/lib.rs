//! Bindings for the worlds of `wit/` plus small helpers, so a resource agent crate only
//! implements the `Guest` trait and calls `export_resource_agent!`, and a fence agent crate
//! implements `fence::Guest` and calls `export_fence_agent!`.

wit_bindgen::generate!({
    world: "resource-agent-world",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "export_resource_agent",
    default_bindings_module: "atrium_agent_sdk",
});

pub use atrium::agent::types::{
    ActionSpec, AgentMetadata as MetaData, KeyValue, OcfStatus, OpContext, OpResult, ParamType, Parameter,
};
pub use exports::atrium::agent::resource_agent::{Guest, Notification};

pub mod command;
pub mod http_json;
pub mod words;

/// The `fence-agent-world`. Its imports and shared types are the ones generated above, so a
/// fence agent uses the same `OpContext`, `host::*` and helpers as a resource agent. With
/// `pub_export_macro` each world's exports are embedded only by its export macro, so a
/// resource agent does not pick up the fence exports (or the other way round).
pub mod fence {
    wit_bindgen::generate!({
        world: "fence-agent-world",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_fence_agent",
        default_bindings_module: "atrium_agent_sdk::fence",
        with: {
            "atrium:agent/types@0.1.0": crate::atrium::agent::types,
            "atrium:agent/log@0.1.0": crate::atrium::agent::log,
            "atrium:agent/state@0.1.0": crate::atrium::agent::state,
            "atrium:agent/clock@0.1.0": crate::atrium::agent::clock,
            "atrium:agent/exec@0.1.0": crate::atrium::agent::exec,
            "atrium:agent/http@0.1.0": crate::atrium::agent::http,
        },
    });

    pub use exports::atrium::agent::fence_agent::{Guest, PowerState};

    /// A comma-separated parameter as trimmed, non-empty items (`plugs`, host lists ...).
    pub fn list_param(ctx: &crate::OpContext, name: &str) -> Vec<String> {
        ctx.param(name)
            .map(|v| v.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Sleeps until the action's deadline: what a hung device looks like to the host.
    pub fn sleep_until_deadline() {
        while crate::host::clock::sleep_ms(crate::host::clock::remaining_ms().max(1)) {}
    }
}

/// Host capabilities, re-exported under short names.
pub mod host {
    pub use crate::atrium::agent::{clock, exec, http, log, node_attributes, state};
}

impl OpResult {
    pub fn ok() -> Self {
        OpResult { status: OcfStatus::Success, exit_reason: None }
    }
    pub fn status(status: OcfStatus) -> Self {
        OpResult { status, exit_reason: None }
    }
    pub fn err(status: OcfStatus, reason: impl Into<String>) -> Self {
        OpResult { status, exit_reason: Some(reason.into()) }
    }
}

impl OpContext {
    /// An instance parameter, or `None` when unset.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|kv| kv.key == name).map(|kv| kv.value.as_str())
    }
    /// A meta value (without the `CRM_meta_` prefix).
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.meta.iter().find(|kv| kv.key == name).map(|kv| kv.value.as_str())
    }
    pub fn is_probe(&self) -> bool {
        self.interval_ms == 0
    }
    /// A parameter that is set and not empty.
    pub fn param_set(&self, name: &str) -> Option<&str> {
        self.param(name).filter(|v| !v.is_empty())
    }
    /// A boolean parameter as OCF agents read them (`true/yes/on/1`, `false/no/off/0`);
    /// anything else is an error naming the parameter.
    pub fn param_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.param_set(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            Some(other) => Err(format!("parameter {name}: '{other}' is not a boolean (true/false)")),
        }
    }
}

impl Parameter {
    pub fn string(name: &str, shortdesc: &str, longdesc: &str) -> Self {
        Parameter {
            name: name.into(),
            shortdesc: shortdesc.into(),
            longdesc: longdesc.into(),
            content_type: ParamType::String,
            default: None,
            required: false,
            unique_group: None,
            reloadable: false,
            values: Vec::new(),
        }
    }
    pub fn boolean(name: &str, shortdesc: &str, longdesc: &str, default: bool) -> Self {
        Parameter { content_type: ParamType::Boolean, default: Some(default.to_string()), ..Parameter::string(name, shortdesc, longdesc) }
    }
    pub fn with_default(self, default: &str) -> Self {
        Parameter { default: Some(default.into()), ..self }
    }
    pub fn required(self) -> Self {
        Parameter { required: true, ..self }
    }
    /// This parameter as a `select` of `values`.
    pub fn select(self, values: &[&str]) -> Self {
        Parameter { content_type: ParamType::Select, values: values.iter().map(|v| v.to_string()).collect(), ..self }
    }
}

impl ActionSpec {
    pub fn new(name: &str, timeout_ms: u64) -> Self {
        ActionSpec { name: name.into(), timeout_ms, interval_ms: None, depth: None, role: None }
    }
}

/// Sleeps for `op_sleep` seconds (fractional allowed) when that parameter is set, as Pacemaker's
/// Dummy does to simulate slow actions. Returns false when the deadline cut the sleep short.
pub fn op_sleep(ctx: &OpContext) -> bool {
    match ctx.param("op_sleep").and_then(|s| s.parse::<f64>().ok()) {
        Some(secs) if secs > 0.0 => host::clock::sleep_ms((secs * 1000.0) as u64),
        _ => true,
    }
}
