//! `dummy`: the equivalent of Pacemaker's Dummy agent. It keeps "running or not" in the
//! per-resource state capability, and honours `op_sleep`, `fail_start_on` and
//! `fail_monitor_on` so tests can make it slow or failing.

use atrium_agent_sdk::host::{log, node_attributes, state};
use atrium_agent_sdk::{
    export_resource_agent, ActionSpec, Guest, MetaData, Notification, OcfStatus, OpContext,
    OpResult, Parameter,
};

const RUNNING_KEY: &str = "running";

struct Dummy;

fn is_running() -> bool {
    state::get(RUNNING_KEY).as_deref() == Some("1")
}

/// True when the parameter names this node (a comma-separated list is allowed).
fn names_this_node(ctx: &OpContext, param: &str) -> bool {
    match ctx.param(param) {
        Some(list) if !list.is_empty() => {
            let me = node_attributes::local_node();
            list.split(',').any(|n| n.trim() == me)
        }
        _ => false,
    }
}

fn slept(ctx: &OpContext) -> Option<OpResult> {
    if atrium_agent_sdk::op_sleep(ctx) {
        None
    } else {
        Some(OpResult::err(OcfStatus::GenericError, "op_sleep outlasted the action timeout"))
    }
}

impl Guest for Dummy {
    fn meta_data() -> MetaData {
        MetaData {
            name: "dummy".into(),
            version: "1.0".into(),
            shortdesc: "Example stateless resource agent (WASM)".into(),
            longdesc: "Does nothing except remember whether it is running. Used for testing \
                       and as a template for agent writers."
                .into(),
            parameters: vec![
                Parameter {
                    reloadable: true,
                    ..Parameter::string("fake", "Fake attribute", "A parameter that can be changed to cause a reload.")
                },
                Parameter::string("op_sleep", "Seconds to sleep in each action", "Makes every action take this long (fractions allowed)."),
                Parameter::string("fail_start_on", "Fail start on these nodes", "Comma-separated node names on which start fails."),
                Parameter::string("fail_monitor_on", "Fail monitor on these nodes", "Comma-separated node names on which a recurring monitor fails."),
            ],
            actions: vec![
                ActionSpec::new("start", 20_000),
                ActionSpec::new("stop", 20_000),
                ActionSpec { interval_ms: Some(10_000), depth: Some(0), ..ActionSpec::new("monitor", 20_000) },
                ActionSpec::new("reload", 20_000),
                ActionSpec::new("migrate_to", 20_000),
                ActionSpec::new("migrate_from", 20_000),
                ActionSpec::new("meta-data", 5_000),
                ActionSpec::new("validate-all", 20_000),
            ],
        }
    }

    fn validate(ctx: OpContext) -> OpResult {
        if let Some(s) = ctx.param("op_sleep") {
            if s.parse::<f64>().map_or(true, |v| v < 0.0) {
                return OpResult::err(OcfStatus::NotConfigured, format!("op_sleep must be a non-negative number, not '{s}'"));
            }
        }
        OpResult::ok()
    }

    fn start(ctx: OpContext) -> OpResult {
        let v = Self::validate(ctx.clone());
        if v.status != OcfStatus::Success {
            return v;
        }
        if let Some(r) = slept(&ctx) {
            return r;
        }
        if names_this_node(&ctx, "fail_start_on") {
            return OpResult::err(OcfStatus::GenericError, "start fails on this node (fail_start_on)");
        }
        if !is_running() {
            state::set(RUNNING_KEY, "1");
            log::log(log::Level::Info, &format!("{} started", ctx.instance));
        }
        OpResult::ok()
    }

    fn stop(ctx: OpContext) -> OpResult {
        if let Some(r) = slept(&ctx) {
            return r;
        }
        if is_running() {
            state::delete(RUNNING_KEY);
            log::log(log::Level::Info, &format!("{} stopped", ctx.instance));
        }
        OpResult::ok()
    }

    fn monitor(ctx: OpContext) -> OpResult {
        if !ctx.is_probe() {
            if let Some(r) = slept(&ctx) {
                return r;
            }
        }
        if !is_running() {
            return OpResult::status(OcfStatus::NotRunning);
        }
        if !ctx.is_probe() && names_this_node(&ctx, "fail_monitor_on") {
            return OpResult::err(OcfStatus::GenericError, "monitor fails on this node (fail_monitor_on)");
        }
        OpResult::ok()
    }

    fn promote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    fn demote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    /// Migration moves the "running" flag: the source forgets it, the target sets it.
    fn migrate_to(ctx: OpContext, target: String) -> OpResult {
        log::log(log::Level::Info, &format!("{} migrating to {target}", ctx.instance));
        state::delete(RUNNING_KEY);
        OpResult::ok()
    }

    fn migrate_from(ctx: OpContext, source: String) -> OpResult {
        log::log(log::Level::Info, &format!("{} migrated from {source}", ctx.instance));
        state::set(RUNNING_KEY, "1");
        OpResult::ok()
    }

    fn notify(_ctx: OpContext, _n: Notification) -> OpResult {
        OpResult::ok()
    }

    fn reload(ctx: OpContext) -> OpResult {
        if is_running() { OpResult::ok() } else { Self::monitor(ctx) }
    }
}

export_resource_agent!(Dummy);
