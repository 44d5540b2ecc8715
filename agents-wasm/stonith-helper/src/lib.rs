//! `stonith-helper`: the first-level device of Linux-HA Japan's fencing topologies
//! (`stonith-helper`, then kdump, then IPMI). It never powers anything; it answers two
//! questions before the real devices run:
//!
//! * Is the target already gone? `off`/`reboot` ping every `dead_check_target` address once;
//!   when none answers, fencing counts as done and the level succeeds.
//! * Which side of a split should shoot? When the target still answers, this node asks
//!   `standby_check_command` whether it is the active side (exit 0). A standby node sleeps
//!   `standby_wait_time` first, so the active side's fencing lands before its own. Either way
//!   the level then fails and the next level (kdump, IPMI) fences.

use atrium_agent_sdk::fence::{export_fence_agent, list_param, Guest, PowerState};
use atrium_agent_sdk::host::{clock, exec, log};
use atrium_agent_sdk::{ActionSpec, MetaData, OpContext, Parameter};
use std::net::IpAddr;

/// Time kept back from the standby wait so the level fails with its own reason rather than
/// being cut off by the action timeout.
const WAIT_MARGIN_MS: u64 = 200;

struct StonithHelper;

/// The parameters, checked.
struct Settings {
    hosts: Vec<String>,
    addresses: Vec<IpAddr>,
    standby_check: Vec<String>,
    standby_wait_ms: u64,
    run_standby_wait: bool,
}

fn settings(ctx: &OpContext) -> Result<Settings, String> {
    let addresses = list_param(ctx, "dead_check_target")
        .iter()
        .map(|a| a.parse::<IpAddr>().map_err(|_| format!("dead_check_target: '{a}' is not an IP address")))
        .collect::<Result<Vec<_>, _>>()?;
    let standby_wait_ms = match ctx.param("standby_wait_time") {
        None | Some("") => 10_000,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| (s * 1000.0) as u64)
            .ok_or_else(|| format!("standby_wait_time='{v}': expected a number of seconds"))?,
    };
    let run_standby_wait = match ctx.param("run_standby_wait").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("yes" | "true" | "on" | "1") => true,
        Some("no" | "false" | "off" | "0") => false,
        Some(other) => return Err(format!("run_standby_wait='{other}': expected yes or no")),
    };
    Ok(Settings {
        hosts: list_param(ctx, "hostlist"),
        addresses,
        standby_check: ctx.param("standby_check_command").unwrap_or("").split_whitespace().map(str::to_string).collect(),
        standby_wait_ms,
        run_standby_wait,
    })
}

/// Does `addr` answer one ping within a second? Exit 1 is "no reply"; anything else (an
/// unreachable network, a bad address) cannot prove the target dead and is an error.
fn answers(addr: &IpAddr) -> Result<bool, String> {
    let args = ["-c", "1", "-W", "1", "-n"].iter().map(|s| s.to_string()).chain([addr.to_string()]).collect::<Vec<_>>();
    let out = exec::run("ping", &args, None, clock::remaining_ms())?;
    match out.code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        code => Err(format!(
            "ping {addr} could not tell whether it answers (exit {code:?}): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The first address that answers, or `None` when every address stayed silent.
fn first_alive(s: &Settings, plug: &str) -> Result<Option<IpAddr>, String> {
    if s.addresses.is_empty() {
        return Err(format!("cannot check whether {plug} is gone: dead_check_target is not set"));
    }
    for addr in &s.addresses {
        if answers(addr)? {
            return Ok(Some(*addr));
        }
    }
    Ok(None)
}

fn check_target(s: &Settings, plug: &str) -> Result<(), String> {
    if !s.hosts.is_empty() && !s.hosts.iter().any(|h| h == plug) {
        return Err(format!("{plug} is not in hostlist ({})", s.hosts.join(" ")));
    }
    Ok(())
}

/// Exit 0 of the standby check means this node holds the service.
fn is_active_side(s: &Settings) -> Result<bool, String> {
    let (program, args) = s.standby_check.split_first().expect("checked non-empty by the caller");
    let out = exec::run(program, args, None, clock::remaining_ms()).map_err(|e| format!("standby_check_command: {e}"))?;
    Ok(out.code == Some(0))
}

fn fence(ctx: &OpContext, action: &str, plug: &str) -> Result<(), String> {
    let s = settings(ctx)?;
    check_target(&s, plug)?;
    let Some(alive) = first_alive(&s, plug)? else {
        log::log(log::Level::Info, &format!("{action} {plug}: no dead_check_target address answers; the target is gone, fencing done"));
        return Ok(());
    };
    let side = if !s.run_standby_wait {
        "run_standby_wait is off".to_string()
    } else if s.standby_check.is_empty() {
        "no standby_check_command to tell the sides apart".to_string()
    } else if is_active_side(&s)? {
        "this node is the active side, no wait".to_string()
    } else {
        let wait = s.standby_wait_ms.min(clock::remaining_ms().saturating_sub(WAIT_MARGIN_MS));
        log::log(log::Level::Info, &format!("{action} {plug}: this node is standby; waiting {wait} ms so the active side fences first"));
        clock::sleep_ms(wait);
        format!("this node is standby and waited {wait} ms")
    };
    Err(format!("{plug} still answers at {alive} ({side}); the next fencing level must fence it"))
}

impl Guest for StonithHelper {
    fn meta_data() -> MetaData {
        MetaData {
            name: "stonith-helper".into(),
            version: "1.0".into(),
            shortdesc: "First-level fencing helper: target-gone check and split-brain delay (WASM)".into(),
            longdesc: "Never powers anything. off/reboot: ping (one echo, 1 s wait) every dead_check_target address; if \
                       none answers the target is already gone and the action succeeds. Otherwise, when run_standby_wait \
                       is yes, standby_check_command tells whether this node is the active side (exit 0); a standby node \
                       sleeps standby_wait_time (bounded by the action timeout) so the active side fences first. The \
                       action then fails, so the next topology level (kdump, IPMI, ...) fences the target. status: on \
                       while an address answers. on is refused. Needs exec:ping and a grant for the standby check's \
                       program."
                .into(),
            parameters: vec![
                Parameter::string("hostlist", "Targets of this device", "Node names separated by spaces or commas (returned by list)."),
                Parameter::string("dead_check_target", "Addresses of the target", "IP addresses separated by spaces; the target is gone when none answers ping.")
                    .required(),
                Parameter::string(
                    "standby_check_command",
                    "Is this node the active side?",
                    "Program and arguments (no shell) that exit 0 on the node holding the service.",
                ),
                Parameter::string("standby_wait_time", "Seconds a standby node waits", "How long the standby side waits before failing over to the next level.")
                    .with_default("10"),
                Parameter::string("run_standby_wait", "Delay the standby side", "yes or no.").select(&["yes", "no"]).with_default("yes"),
            ],
            actions: ["off", "reboot", "status", "list", "monitor"]
                .iter()
                .map(|a| ActionSpec::new(a, 60_000))
                .chain([ActionSpec::new("metadata", 5_000)])
                .collect(),
        }
    }

    fn list(ctx: OpContext) -> Result<Vec<String>, String> {
        Ok(settings(&ctx)?.hosts)
    }

    fn status(ctx: OpContext, plug: String) -> Result<PowerState, String> {
        let s = settings(&ctx)?;
        check_target(&s, &plug)?;
        Ok(if first_alive(&s, &plug)?.is_some() { PowerState::On } else { PowerState::Off })
    }

    fn on(_ctx: OpContext, plug: String) -> Result<(), String> {
        Err(format!("cannot power on {plug}: stonith-helper only checks and delays"))
    }

    fn off(ctx: OpContext, plug: String) -> Result<(), String> {
        fence(&ctx, "off", &plug)
    }

    fn reboot(ctx: OpContext, plug: String) -> Result<(), String> {
        fence(&ctx, "reboot", &plug)
    }

    /// The device has nothing to reach; monitoring checks its configuration.
    fn monitor(ctx: OpContext) -> Result<(), String> {
        settings(&ctx).map(drop)
    }
}

export_fence_agent!(StonithHelper);
