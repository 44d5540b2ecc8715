//! `hostile`: a test agent that misbehaves on demand, so the runtime's tests can show a broken
//! agent never takes the host down. Parameter `mode` on start:
//! `loop` (spins forever), `memory` (allocates without bound), `trap` (executes unreachable),
//! `panic` (Rust panic), `exec` (runs `true` through the exec capability), `sleep` (sleeps past
//! any deadline through the clock capability), `wasi-sleep` (the same through WASI's own
//! clock), `wasi-http` (a request through WASI's own HTTP interface), anything else succeeds.

use atrium_agent_sdk::host::{clock, exec, log, state};
use atrium_agent_sdk::{
    export_resource_agent, ActionSpec, Guest, MetaData, Notification, OcfStatus, OpContext,
    OpResult, Parameter,
};

struct Hostile;

#[inline(never)]
fn spin() -> u64 {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        if x == 0 {
            return x;
        }
    }
}

fn misbehave(ctx: &OpContext) -> OpResult {
    match ctx.param("mode").unwrap_or("") {
        "loop" => OpResult::err(OcfStatus::GenericError, format!("escaped loop {}", spin())),
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 1 << 20];
                block[0] = hoard.len() as u8;
                hoard.push(std::hint::black_box(block));
            }
        }
        "trap" => {
            #[cfg(target_arch = "wasm32")]
            core::arch::wasm32::unreachable();
            #[cfg(not(target_arch = "wasm32"))]
            unreachable!()
        }
        "panic" => panic!("hostile agent panics on purpose"),
        "exec" => match exec::run("true", &[], None, 1_000) {
            Ok(out) => OpResult::err(OcfStatus::Success, format!("exec ran, code {:?}", out.code)),
            Err(e) => OpResult::err(OcfStatus::GenericError, e),
        },
        "sleep" => {
            clock::sleep_ms(u64::MAX / 4);
            OpResult::err(OcfStatus::GenericError, "sleep returned")
        }
        "wasi-http" => match wasi_http_get() {
            Ok(status) => OpResult::err(OcfStatus::Success, format!("wasi:http answered {status}")),
            Err(e) => OpResult::err(OcfStatus::GenericError, format!("wasi:http refused: {e}")),
        },
        "wasi-sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            OpResult::err(OcfStatus::GenericError, "WASI sleep returned")
        }
        _ => {
            state::set("running", "1");
            log::log(log::Level::Info, "hostile agent behaved");
            OpResult::ok()
        }
    }
}

/// An outgoing request through WASI's own HTTP interface, bypassing the http capability.
fn wasi_http_get() -> Result<u16, String> {
    use wasi::http::outgoing_handler::{OutgoingRequest, handle};
    use wasi::http::types::{Fields, Scheme};
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&Scheme::Http)).map_err(|_| "scheme")?;
    req.set_authority(Some("127.0.0.1:9")).map_err(|_| "authority")?;
    req.set_path_with_query(Some("/")).map_err(|_| "path")?;
    let pending = handle(req, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(resp))) => Ok(resp.status()),
        Some(Ok(Err(e))) => Err(format!("{e:?}")),
        other => Err(format!("{other:?}")),
    }
}

impl Guest for Hostile {
    fn meta_data() -> MetaData {
        MetaData {
            name: "hostile".into(),
            version: "1.0".into(),
            shortdesc: "Misbehaving agent for sandbox tests".into(),
            longdesc: "Loops, allocates without bound, traps or panics on start, as told by `mode`.".into(),
            parameters: vec![Parameter::string("mode", "How to misbehave", "loop, memory, trap, panic, exec, sleep or ok")],
            actions: vec![ActionSpec::new("start", 20_000), ActionSpec::new("stop", 20_000), ActionSpec::new("monitor", 20_000)],
        }
    }
    fn validate(_ctx: OpContext) -> OpResult {
        OpResult::ok()
    }
    fn start(ctx: OpContext) -> OpResult {
        misbehave(&ctx)
    }
    fn stop(_ctx: OpContext) -> OpResult {
        state::delete("running");
        OpResult::ok()
    }
    fn monitor(_ctx: OpContext) -> OpResult {
        if state::get("running").is_some() { OpResult::ok() } else { OpResult::status(OcfStatus::NotRunning) }
    }
    fn promote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }
    fn demote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }
    fn migrate_to(_ctx: OpContext, _t: String) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }
    fn migrate_from(_ctx: OpContext, _s: String) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }
    fn notify(_ctx: OpContext, _n: Notification) -> OpResult {
        OpResult::ok()
    }
    fn reload(_ctx: OpContext) -> OpResult {
        OpResult::ok()
    }
}

export_resource_agent!(Hostile);
