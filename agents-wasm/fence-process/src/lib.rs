//! `fence-process`: powers a local test node off by killing its process. The `match` parameter
//! is a pgrep/pkill pattern with `{plug}` standing for the target; `off` (and `reboot`, which
//! cannot power anything back on) runs `pkill -KILL -f PATTERN` and waits until
//! `pgrep -f PATTERN` finds nothing. Both programs run through the exec capability, so the
//! administrator grants exactly `exec:pkill` and `exec:pgrep`.

use atrium_agent_sdk::fence::{export_fence_agent, Guest, PowerState};
use atrium_agent_sdk::host::{clock, exec, log};
use atrium_agent_sdk::{ActionSpec, MetaData, OpContext, Parameter};

/// How often `off` looks again whether the killed process is gone.
const CONFIRM_POLL_MS: u64 = 50;

struct FenceProcess;

/// The plug as regex text: letters, digits, `-`, `_`, `:` and `@` stand for themselves, `.` is
/// escaped; anything else is refused, so a target name can never widen the pattern.
fn plug_regex(plug: &str) -> Result<String, String> {
    if plug.is_empty() {
        return Err("the target (plug) is empty".into());
    }
    let mut out = String::with_capacity(plug.len());
    for c in plug.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | ':' | '@' => out.push(c),
            '.' => out.push_str("[.]"),
            other => return Err(format!("target '{plug}' contains '{other}': only letters, digits and - _ . : @ are allowed")),
        }
    }
    Ok(out)
}

/// The `match` parameter with `{plug}` replaced by the escaped target.
fn pattern(ctx: &OpContext, plug: &str) -> Result<String, String> {
    let template = ctx.param("match").filter(|m| !m.is_empty()).ok_or("parameter 'match' is required")?;
    if !template.contains("{plug}") {
        // Without the target in it the pattern would kill the same processes for every target.
        return Err(format!("parameter match='{template}' must contain {{plug}}"));
    }
    Ok(template.replace("{plug}", &plug_regex(plug)?))
}

/// Runs pgrep or pkill with the time left; exit 0 = matched, 1 = nothing matched.
fn run(program: &str, args: &[&str]) -> Result<bool, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = exec::run(program, &args, None, clock::remaining_ms())?;
    match out.code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        code => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let how = code.map_or("was killed by a signal".to_string(), |c| format!("exited with {c}"));
            Err(format!("{program} {} {how}: {}", args.join(" "), stderr.trim()))
        }
    }
}

fn is_running(pattern: &str) -> Result<bool, String> {
    run("pgrep", &["-f", pattern])
}

fn kill_and_confirm(ctx: &OpContext, action: &str, plug: &str) -> Result<(), String> {
    let pattern = pattern(ctx, plug)?;
    let killed = run("pkill", &["-KILL", "-f", &pattern])?;
    log::log(
        log::Level::Info,
        &format!("{action} {plug}: pkill -KILL -f '{pattern}' {}", if killed { "signalled a process" } else { "found nothing (already off)" }),
    );
    loop {
        if !is_running(&pattern)? {
            return Ok(());
        }
        if !clock::sleep_ms(CONFIRM_POLL_MS) {
            return Err(format!("{action} {plug}: processes matching '{pattern}' still run at the deadline"));
        }
    }
}

impl Guest for FenceProcess {
    fn meta_data() -> MetaData {
        MetaData {
            name: "fence-process".into(),
            version: "1.0".into(),
            shortdesc: "Fences a local node by killing its process (WASM)".into(),
            longdesc: "off kills every process whose command line matches the match pattern (pkill -KILL -f) and \
                       succeeds once pgrep -f finds none within the timeout. reboot does the same: the agent cannot \
                       start a node, so whatever supervises the node restarts it. status is on while a process \
                       matches. on is refused. Needs the grants exec:pkill and exec:pgrep."
                .into(),
            parameters: vec![Parameter::string(
                "match",
                "Process pattern, {plug} = target",
                "Extended regular expression matched against full command lines, {plug} replaced by the target \
                 (for example 'atrium node run --config .*/{plug}/node.toml'). Target names may contain only \
                 letters, digits and - _ . : @ ('.' is matched literally).",
            )
            .required()],
            actions: ["off", "reboot", "status", "monitor"]
                .iter()
                .map(|a| ActionSpec::new(a, 20_000))
                .chain([ActionSpec::new("metadata", 5_000)])
                .collect(),
        }
    }

    fn list(_ctx: OpContext) -> Result<Vec<String>, String> {
        Err("list is not supported: processes do not name their targets; configure pcmk_host_list".into())
    }

    fn status(ctx: OpContext, plug: String) -> Result<PowerState, String> {
        let pattern = pattern(&ctx, &plug)?;
        Ok(if is_running(&pattern)? { PowerState::On } else { PowerState::Off })
    }

    fn on(_ctx: OpContext, plug: String) -> Result<(), String> {
        Err(format!("cannot power on {plug}: fence-process only kills processes"))
    }

    fn off(ctx: OpContext, plug: String) -> Result<(), String> {
        kill_and_confirm(&ctx, "off", &plug)
    }

    fn reboot(ctx: OpContext, plug: String) -> Result<(), String> {
        kill_and_confirm(&ctx, "reboot", &plug)
    }

    /// The device works when both programs can be run.
    fn monitor(_ctx: OpContext) -> Result<(), String> {
        for program in ["pgrep", "pkill"] {
            let out = exec::run(program, &["-V".to_string()], None, clock::remaining_ms())?;
            if out.code != Some(0) {
                return Err(format!("{program} -V exited with {:?}: {}", out.code, String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
        Ok(())
    }
}

export_fence_agent!(FenceProcess);
