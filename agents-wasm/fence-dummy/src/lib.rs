//! `fence-dummy`: a fence device for tests. Every action succeeds, fails or hangs as `mode`
//! (or `mode_<action>` for one action) says; `off`/`on`/`reboot` record each plug's power state
//! in the state capability (per device), and `status` reports it.

use atrium_agent_sdk::fence::{export_fence_agent, list_param, sleep_until_deadline, Guest, PowerState};
use atrium_agent_sdk::host::{log, state};
use atrium_agent_sdk::{ActionSpec, MetaData, OpContext, Parameter};

const MODES: [&str; 3] = ["success", "fail", "hang"];
const ACTIONS: [&str; 6] = ["list", "status", "on", "off", "reboot", "monitor"];

struct FenceDummy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Success,
    Fail,
    Hang,
}

/// The mode for `action`: `mode_<action>` when set, else `mode`, else success.
fn mode(ctx: &OpContext, action: &str) -> Result<Mode, String> {
    let key = format!("mode_{action}");
    let (name, value) = match ctx.param(&key) {
        Some(v) => (key.as_str(), v),
        None => ("mode", ctx.param("mode").unwrap_or("success")),
    };
    match value {
        "success" => Ok(Mode::Success),
        "fail" => Ok(Mode::Fail),
        "hang" => Ok(Mode::Hang),
        other => Err(format!("parameter {name}='{other}': expected one of {}", MODES.join(", "))),
    }
}

/// Logs the call, sleeps `op_sleep`, then fails or hangs when the mode says so.
fn begin(ctx: &OpContext, action: &str, plug: Option<&str>) -> Result<(), String> {
    let mode = mode(ctx, action)?;
    let target = plug.map(|p| format!(" {p}")).unwrap_or_default();
    log::log(log::Level::Info, &format!("fence-dummy {}: {action}{target} (mode {mode:?})", ctx.instance));
    if !atrium_agent_sdk::op_sleep(ctx) {
        return Err(format!("{action}{target}: op_sleep outlasted the timeout"));
    }
    if let Some(p) = plug {
        let plugs = list_param(ctx, "plugs");
        if !plugs.is_empty() && !plugs.iter().any(|x| x == p) {
            return Err(format!("{p} is not one of this device's plugs ({})", plugs.join(", ")));
        }
    }
    match mode {
        Mode::Success => Ok(()),
        Mode::Fail => Err(format!("{action}{target} failed as configured (mode fail)")),
        Mode::Hang => {
            sleep_until_deadline();
            Err(format!("{action}{target} hung until its deadline as configured (mode hang)"))
        }
    }
}

fn power_key(plug: &str) -> String {
    format!("power:{plug}")
}

/// A plug is on until this device powers it off.
fn power(plug: &str) -> PowerState {
    match state::get(&power_key(plug)).as_deref() {
        Some("off") => PowerState::Off,
        _ => PowerState::On,
    }
}

fn set_power(plug: &str, on: bool) {
    state::set(&power_key(plug), if on { "on" } else { "off" });
}

impl Guest for FenceDummy {
    fn meta_data() -> MetaData {
        let mut parameters = vec![
            Parameter::string("mode", "How every action behaves", "success: actions succeed; fail: they return an error; hang: they sleep until the action's timeout.")
                .select(&MODES)
                .with_default("success"),
            Parameter::string("plugs", "Targets this device can fence", "Comma-separated plug names, returned by list; when set, other targets are refused."),
            Parameter::string("op_sleep", "Seconds to sleep in each action", "Makes every action take this long before its mode applies (fractions allowed)."),
        ];
        for action in ACTIONS {
            parameters.push(
                Parameter::string(&format!("mode_{action}"), &format!("How {action} behaves"), &format!("Overrides mode for {action} only."))
                    .select(&MODES),
            );
        }
        MetaData {
            name: "fence-dummy".into(),
            version: "1.0".into(),
            shortdesc: "Test fence device (WASM)".into(),
            longdesc: "Powers nothing: remembers each plug's power state per device, and succeeds, fails or hangs as configured. \
                       For testing fencing topologies, retries and timeouts."
                .into(),
            parameters,
            actions: ["on", "off", "reboot", "status", "list", "monitor"]
                .iter()
                .map(|a| ActionSpec::new(a, 20_000))
                .chain([ActionSpec::new("metadata", 5_000)])
                .collect(),
        }
    }

    fn list(ctx: OpContext) -> Result<Vec<String>, String> {
        begin(&ctx, "list", None)?;
        Ok(list_param(&ctx, "plugs"))
    }

    fn status(ctx: OpContext, plug: String) -> Result<PowerState, String> {
        begin(&ctx, "status", Some(&plug))?;
        Ok(power(&plug))
    }

    fn on(ctx: OpContext, plug: String) -> Result<(), String> {
        begin(&ctx, "on", Some(&plug))?;
        set_power(&plug, true);
        Ok(())
    }

    fn off(ctx: OpContext, plug: String) -> Result<(), String> {
        begin(&ctx, "off", Some(&plug))?;
        set_power(&plug, false);
        Ok(())
    }

    /// Off then on: the plug ends powered on, as after a real reboot.
    fn reboot(ctx: OpContext, plug: String) -> Result<(), String> {
        begin(&ctx, "reboot", Some(&plug))?;
        set_power(&plug, false);
        set_power(&plug, true);
        Ok(())
    }

    fn monitor(ctx: OpContext) -> Result<(), String> {
        begin(&ctx, "monitor", None)
    }
}

export_fence_agent!(FenceDummy);
