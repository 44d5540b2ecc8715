//! `stateful`: a promotable agent like Pacemaker's Stateful. It remembers its role in the
//! state capability and publishes promotion scores through the node-attributes capability
//! (5 when unpromoted, 10 when promoted), as `crm_master` would.

use atrium_agent_sdk::host::{log, node_attributes, state};
use atrium_agent_sdk::{
    export_resource_agent, ActionSpec, Guest, MetaData, Notification, OcfStatus, OpContext,
    OpResult, Parameter,
};

const ROLE_KEY: &str = "role";
const UNPROMOTED_SCORE: i32 = 5;
const PROMOTED_SCORE: i32 = 10;

#[derive(PartialEq)]
enum Role {
    Stopped,
    Unpromoted,
    Promoted,
}

fn role() -> Role {
    match state::get(ROLE_KEY).as_deref() {
        Some("promoted") => Role::Promoted,
        Some("unpromoted") => Role::Unpromoted,
        _ => Role::Stopped,
    }
}

fn set_role(r: Role) -> OpResult {
    let (name, score) = match r {
        Role::Stopped => {
            state::delete(ROLE_KEY);
            return match node_attributes::clear_promotion_score() {
                Ok(()) => OpResult::ok(),
                Err(e) => OpResult::err(OcfStatus::GenericError, format!("could not clear promotion score: {e}")),
            };
        }
        Role::Unpromoted => ("unpromoted", UNPROMOTED_SCORE),
        Role::Promoted => ("promoted", PROMOTED_SCORE),
    };
    state::set(ROLE_KEY, name);
    match node_attributes::set_promotion_score(score) {
        Ok(()) => OpResult::ok(),
        Err(e) => OpResult::err(OcfStatus::GenericError, format!("could not set promotion score: {e}")),
    }
}

struct Stateful;

impl Guest for Stateful {
    fn meta_data() -> MetaData {
        MetaData {
            name: "stateful".into(),
            version: "1.0".into(),
            shortdesc: "Example promotable resource agent (WASM)".into(),
            longdesc: "Remembers whether it is stopped, unpromoted or promoted and sets promotion \
                       scores like a real promotable service would."
                .into(),
            parameters: vec![Parameter::string("envfile", "Unused", "Accepted for compatibility with ocf:pacemaker:Stateful.")],
            actions: vec![
                ActionSpec::new("start", 20_000),
                ActionSpec::new("stop", 20_000),
                ActionSpec::new("promote", 10_000),
                ActionSpec::new("demote", 10_000),
                ActionSpec { interval_ms: Some(10_000), role: Some("Promoted".into()), ..ActionSpec::new("monitor", 20_000) },
                ActionSpec { interval_ms: Some(11_000), role: Some("Unpromoted".into()), ..ActionSpec::new("monitor", 20_000) },
                ActionSpec::new("notify", 5_000),
                ActionSpec::new("meta-data", 5_000),
                ActionSpec::new("validate-all", 30_000),
            ],
        }
    }

    fn validate(_ctx: OpContext) -> OpResult {
        OpResult::ok()
    }

    fn start(ctx: OpContext) -> OpResult {
        if role() != Role::Stopped {
            return OpResult::ok();
        }
        log::log(log::Level::Info, &format!("{} started (unpromoted)", ctx.instance));
        set_role(Role::Unpromoted)
    }

    /// Always clears the promotion score, even when already stopped: a stale score must not
    /// survive a stop.
    fn stop(ctx: OpContext) -> OpResult {
        if role() != Role::Stopped {
            log::log(log::Level::Info, &format!("{} stopped", ctx.instance));
        }
        set_role(Role::Stopped)
    }

    /// Republishes the promotion score of a running instance, so scores come back after the
    /// cluster forgot transient attributes (a rejoin, say), as Pacemaker's Stateful does.
    fn monitor(_ctx: OpContext) -> OpResult {
        match role() {
            Role::Stopped => OpResult::status(OcfStatus::NotRunning),
            Role::Unpromoted => set_role(Role::Unpromoted),
            Role::Promoted => match set_role(Role::Promoted) {
                r if r.status == OcfStatus::Success => OpResult::status(OcfStatus::RunningPromoted),
                failed => failed,
            },
        }
    }

    fn promote(ctx: OpContext) -> OpResult {
        match role() {
            Role::Stopped => OpResult::err(OcfStatus::NotRunning, "cannot promote a stopped instance"),
            Role::Promoted => OpResult::ok(),
            Role::Unpromoted => {
                log::log(log::Level::Info, &format!("{} promoted", ctx.instance));
                set_role(Role::Promoted)
            }
        }
    }

    fn demote(ctx: OpContext) -> OpResult {
        match role() {
            Role::Stopped => OpResult::err(OcfStatus::NotRunning, "cannot demote a stopped instance"),
            Role::Unpromoted => OpResult::ok(),
            Role::Promoted => {
                log::log(log::Level::Info, &format!("{} demoted", ctx.instance));
                set_role(Role::Unpromoted)
            }
        }
    }

    fn migrate_to(_ctx: OpContext, _target: String) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    fn migrate_from(_ctx: OpContext, _source: String) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    fn notify(_ctx: OpContext, _n: Notification) -> OpResult {
        OpResult::ok()
    }

    fn reload(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }
}

export_resource_agent!(Stateful);
