//! `docker`: a container managed through the Docker Engine API on its unix socket, with the
//! parameters of the OCF docker agent. The agent reaches the socket through the http
//! capability only, so it can touch nothing but the endpoint it was granted.

mod config;
mod engine;
mod run_opts;

use atrium_agent_sdk::host::{clock, log};
use atrium_agent_sdk::{ActionSpec, Guest, MetaData, Notification, OcfStatus, OpContext, OpResult, Parameter, export_resource_agent};
use config::{DockerConfig, Target};
use engine::{Container, Engine};
use serde_json::Value;

/// Seconds of the stop timeout kept back from the engine's stop grace, for the kill and
/// removal after it (as the OCF agent does with `docker stop -t`).
const STOP_RESERVE_S: u64 = 10;
/// Pause between monitors while a start waits for the container to run.
const START_POLL_MS: u64 = 500;

fn not_configured(e: String) -> OpResult {
    OpResult::err(OcfStatus::NotConfigured, e)
}

fn error(e: String) -> OpResult {
    OpResult::err(OcfStatus::GenericError, e)
}

/// The engine, or the monitor's answer when it cannot be reached.
fn reachable_engine(endpoint: &str) -> Result<Engine, OpResult> {
    let engine = Engine::new(endpoint);
    engine.ping().map_err(|e| error(format!("Docker service is in error state: {e}")))?;
    Ok(engine)
}

/// The configuration and a reachable engine, or the answer to give without them.
fn setup(ctx: &OpContext) -> Result<(DockerConfig, Engine), OpResult> {
    let cfg = DockerConfig::from_ctx(ctx).map_err(not_configured)?;
    let engine = reachable_engine(&cfg.target.endpoint)?;
    Ok((cfg, engine))
}

fn monitor_with(engine: &Engine, cfg: &DockerConfig) -> OpResult {
    let name = &cfg.target.name;
    match engine.container(name) {
        Err(e) => error(e),
        Ok(Container::Missing) => OpResult::err(OcfStatus::NotRunning, format!("container {name} does not exist")),
        Ok(Container::Stopped(why)) => OpResult::err(OcfStatus::NotRunning, format!("container {name} is not running ({why})")),
        Ok(Container::Running) if cfg.monitor_cmd.is_empty() => OpResult::ok(),
        Ok(Container::Running) => match engine.exec(name, &cfg.monitor_cmd) {
            Ok((0, _)) => OpResult::ok(),
            Ok((code, out)) => error(format!("monitor_cmd '{}' exited with {code} in {name}: {}", cfg.monitor_cmd.join(" "), out.trim())),
            Err(e) => error(e),
        },
    }
}

/// Creates and starts a fresh container (or restarts the kept one with `reuse`).
fn launch(engine: &Engine, cfg: &DockerConfig) -> Result<(), OpResult> {
    let name = &cfg.target.name;
    match engine.container(name).map_err(error)? {
        Container::Running => return Ok(()),
        Container::Stopped(_) if cfg.target.reuse => {
            log::log(log::Level::Info, &format!("starting the kept container {name} (reuse)"));
            return engine.start(name).map_err(error);
        }
        // A leftover of an earlier run: replaced, as the OCF agent does.
        Container::Stopped(_) => engine.remove(name).map_err(error)?,
        Container::Missing => {}
    }
    if !engine.image_present(&cfg.image).map_err(error)? {
        if !cfg.allow_pull {
            return Err(not_configured(format!("base image {} could not be found (and allow_pull is off)", cfg.image)));
        }
        log::log(log::Level::Info, &format!("pulling {}", cfg.image));
        engine.pull(&cfg.image).map_err(error)?;
    }
    let mut body = cfg.create.body.clone();
    body.insert("Image".into(), Value::String(cfg.image.clone()));
    engine.create(name, &Value::Object(body)).map_err(error)?;
    log::log(log::Level::Info, &format!("created container {name} from {}", cfg.image));
    engine.start(name).map_err(error)
}

struct Docker;

impl Guest for Docker {
    fn meta_data() -> MetaData {
        MetaData {
            name: "docker".into(),
            version: "1.0".into(),
            shortdesc: "Docker container (WASM, Docker Engine API)".into(),
            longdesc: "Runs one container through the Docker Engine API on a unix socket, with the \
                       parameters of ocf:heartbeat:docker. run_opts are translated into the API's \
                       container configuration; options that only the docker CLI understands are refused. \
                       The agent needs the http capability granted to the engine's socket."
                .into(),
            parameters: vec![
                Parameter::string("image", "Image", "The image to run the container from (it is pulled only with allow_pull).").required(),
                Parameter::string("name", "Container name", "Name of the container; default: the resource instance, ':' replaced by '-'."),
                Parameter::boolean("allow_pull", "Pull a missing image", "Pull the image when it is not on this host.", false),
                Parameter::string("run_opts", "docker run options", "Options as given to `docker run` (-e, -v, -p, --net, --restart, ...)."),
                Parameter::string("run_cmd", "Command", "Command and arguments to run in the container (default: the image's)."),
                Parameter::string("monitor_cmd", "Monitor command", "Command run inside the container by monitor; non-zero means failed."),
                Parameter::boolean("force_kill", "Kill instead of stop", "Kill the container at stop instead of stopping it gracefully.", false),
                Parameter::boolean("reuse", "Keep the container", "Keep the stopped container and start it again instead of creating a new one.", false),
                Parameter::string("mount_points", "Host directories", "Comma-separated host directories the container binds; each must be the source of a -v in run_opts (Docker creates missing ones)."),
                Parameter::string("endpoint", "Docker Engine endpoint", "The engine's API socket; it must be granted to the agent.").with_default(config::DEFAULT_ENDPOINT),
            ],
            actions: vec![
                ActionSpec::new("start", 90_000),
                ActionSpec::new("stop", 90_000),
                ActionSpec { interval_ms: Some(30_000), depth: Some(0), ..ActionSpec::new("monitor", 30_000) },
                ActionSpec::new("meta-data", 5_000),
                ActionSpec::new("validate-all", 30_000),
            ],
        }
    }

    fn validate(ctx: OpContext) -> OpResult {
        let (cfg, engine) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        match engine.image_present(&cfg.image) {
            Ok(true) => OpResult::ok(),
            Ok(false) if cfg.allow_pull => OpResult::ok(),
            Ok(false) => not_configured(format!("base image {} could not be found (and allow_pull is off)", cfg.image)),
            Err(e) => error(e),
        }
    }

    fn start(ctx: OpContext) -> OpResult {
        let (cfg, engine) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if let Err(r) = launch(&engine, &cfg) {
            return r;
        }
        // Started means a monitor passes; the action's deadline bounds the wait.
        loop {
            let r = monitor_with(&engine, &cfg);
            if r.status == OcfStatus::Success {
                return r;
            }
            if !clock::sleep_ms(START_POLL_MS) {
                let why = r.exit_reason.unwrap_or_default();
                return error(format!("container {} did not pass monitor before the start timeout: {why}", cfg.target.name));
            }
        }
    }

    fn stop(ctx: OpContext) -> OpResult {
        // Only what names the container: a broken image or run_opts must not block a stop.
        let target = match Target::from_ctx(&ctx) {
            Ok(t) => t,
            Err(e) => return not_configured(e),
        };
        let engine = match reachable_engine(&target.endpoint) {
            Ok(e) => e,
            Err(r) => return r,
        };
        let name = &target.name;
        match engine.container(name) {
            Err(e) => return error(e),
            Ok(Container::Missing) => return OpResult::ok(),
            Ok(Container::Running) => {
                let stopped = if target.force_kill {
                    engine.kill(name)
                } else {
                    let grace = (clock::remaining_ms() / 1000).saturating_sub(STOP_RESERVE_S).max(1);
                    engine.stop(name, grace).or_else(|e| {
                        log::log(log::Level::Warn, &format!("stopping {name} failed ({e}); killing it"));
                        engine.kill(name)
                    })
                };
                if let Err(e) = stopped {
                    return error(e);
                }
            }
            Ok(Container::Stopped(_)) => {}
        }
        if !target.reuse {
            if let Err(e) = engine.remove(name) {
                return error(e);
            }
        }
        match engine.container(name) {
            Ok(Container::Running) => error(format!("container {name} still runs after stop")),
            Ok(_) => {
                log::log(log::Level::Info, &format!("container {name} stopped"));
                OpResult::ok()
            }
            Err(e) => error(e),
        }
    }

    fn monitor(ctx: OpContext) -> OpResult {
        match setup(&ctx) {
            Ok((cfg, engine)) => monitor_with(&engine, &cfg),
            Err(r) => r,
        }
    }

    fn promote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    fn demote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
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

export_resource_agent!(Docker);
