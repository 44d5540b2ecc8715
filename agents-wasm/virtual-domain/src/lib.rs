//! `virtual-domain`: a libvirt domain managed with `virsh`, with the parameters of the OCF
//! VirtualDomain agent. It reaches libvirt only through the exec capability allowlisted to
//! `virsh`; anything else it runs (monitor_scripts) needs its own grant.

mod config;
mod virsh;

use atrium_agent_sdk::command;
use atrium_agent_sdk::host::{clock, log};
use atrium_agent_sdk::{ActionSpec, Guest, MetaData, Notification, OcfStatus, OpContext, OpResult, Parameter, export_resource_agent};
use config::{DomainConfig, Migration};
use virsh::{DomState, Virsh};

/// Time kept back from the stop timeout for `virsh destroy` after a graceful shutdown that
/// did not finish (the OCF agent keeps 5 s too).
const DESTROY_RESERVE_MS: u64 = 5_000;
const POLL_MS: u64 = 1_000;

fn error(e: String) -> OpResult {
    OpResult::err(OcfStatus::GenericError, e)
}

/// Reads the configuration; a denied or missing virsh shows here as the host words it.
fn setup(ctx: &OpContext) -> Result<(DomainConfig, Virsh), OpResult> {
    let cfg = DomainConfig::from_ctx(ctx).map_err(|e| OpResult::err(OcfStatus::NotConfigured, e))?;
    let virsh = Virsh::new(cfg.hypervisor.clone());
    Ok((cfg, virsh))
}

fn is_active(s: &DomState) -> bool {
    matches!(s, DomState::Active(_))
}

fn monitor_with(cfg: &DomainConfig, virsh: &Virsh) -> OpResult {
    let name = &cfg.domain;
    match virsh.domstate(name) {
        Err(e) => error(e),
        Ok(DomState::Missing) => OpResult::err(OcfStatus::NotRunning, format!("domain {name} is not defined here")),
        Ok(DomState::Off) => OpResult::err(OcfStatus::NotRunning, format!("domain {name} is shut off")),
        Ok(DomState::Crashed) => error(format!("domain {name} crashed")),
        Ok(DomState::Active(_)) => {
            for script in &cfg.monitor_scripts {
                match command::run(script, &[], clock::remaining_ms()) {
                    Ok(out) if out.success() => {}
                    Ok(out) => return error(format!("monitor script {script} failed: {}", out.message())),
                    Err(e) => return error(format!("monitor script {script}: {e}")),
                }
            }
            OpResult::ok()
        }
    }
}

/// Polls until the domain is active, or the deadline passes.
fn wait_active(cfg: &DomainConfig, virsh: &Virsh, what: &str) -> OpResult {
    loop {
        let r = monitor_with(cfg, virsh);
        if r.status == OcfStatus::Success {
            return r;
        }
        if !clock::sleep_ms(POLL_MS) {
            return error(format!("{what}: domain {} not running before the timeout: {}", cfg.domain, r.exit_reason.unwrap_or_default()));
        }
    }
}

struct VirtualDomain;

impl Guest for VirtualDomain {
    fn meta_data() -> MetaData {
        MetaData {
            name: "virtual-domain".into(),
            version: "1.0".into(),
            shortdesc: "libvirt virtual domain (WASM, virsh)".into(),
            longdesc: "Manages a libvirt domain with virsh, with the parameters of ocf:heartbeat:VirtualDomain: \
                       start creates the domain from its XML, stop shuts it down and destroys it when the \
                       shutdown does not finish in time, migrate_to/migrate_from move it live. The agent \
                       needs exec granted for virsh."
                .into(),
            parameters: vec![
                Parameter::string("config", "Domain XML", "Absolute path to the libvirt domain XML.").required(),
                Parameter::string("domain", "Domain name", "The <name> in config; default: the resource instance. Start checks it."),
                Parameter::string("hypervisor", "Hypervisor URI", "libvirt connection URI (default: virsh's); %n is replaced by this node's name."),
                Parameter::boolean("force_stop", "Destroy at once", "Stop destroys the domain without a graceful shutdown first.", false),
                Parameter { values: vec!["live".into(), "save".into()], content_type: atrium_agent_sdk::ParamType::Select, ..Parameter::string("migration_method", "How to migrate", "live: virsh migrate --live; save: virsh save into migration_state_dir, virsh restore on the target.").with_default("live") },
                Parameter::string("migration_transport", "Migration transport", "Transport added to the hypervisor URI's scheme for the target (ssh, tcp, tls ...)."),
                Parameter::string("migration_network_suffix", "Migration network suffix", "Appended to the target node's name to reach its hypervisor over a dedicated network."),
                Parameter::string("remoteuri", "Target hypervisor URI", "URI of the target's hypervisor; %n is replaced by the target node (plus suffix)."),
                Parameter::string("migrateuri", "Migration URI", "Data-transfer URI given to virsh migrate."),
                Parameter::string("migrate_options", "Extra virsh migrate options", "Added to virsh migrate (e.g. --unsafe --compressed)."),
                Parameter::string("migration_state_dir", "Shared state directory", "Directory both nodes share, for migration_method=save."),
                Parameter::string("monitor_scripts", "Monitor programs", "Absolute paths of programs monitor runs while the domain runs; each needs an exec grant."),
            ],
            actions: vec![
                ActionSpec::new("start", 90_000),
                ActionSpec::new("stop", 90_000),
                ActionSpec { interval_ms: Some(10_000), depth: Some(0), ..ActionSpec::new("monitor", 30_000) },
                ActionSpec::new("migrate_to", 120_000),
                ActionSpec::new("migrate_from", 60_000),
                ActionSpec::new("meta-data", 5_000),
                ActionSpec::new("validate-all", 5_000),
            ],
        }
    }

    fn validate(ctx: OpContext) -> OpResult {
        let (_, virsh) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        match virsh.version() {
            Ok(_) => OpResult::ok(),
            Err(e) if e.contains("not found") => OpResult::err(OcfStatus::NotInstalled, e),
            Err(e) => error(e),
        }
    }

    fn start(ctx: OpContext) -> OpResult {
        let (cfg, virsh) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let name = &cfg.domain;
        match virsh.domstate(name) {
            Err(e) => return error(e),
            Ok(DomState::Active(_)) => return OpResult::ok(),
            // Start runs the domain transient, as the OCF agent does: a persistent definition
            // would let it come back outside the cluster's control.
            Ok(DomState::Off | DomState::Crashed) => {
                if let Err(e) = virsh.quick(&["undefine", name]) {
                    return error(e);
                }
            }
            Ok(DomState::Missing) => {}
        }
        match virsh.create(&cfg.config) {
            Err(e) => return error(e),
            Ok(created) if created != *name => {
                let _ = virsh.quick(&["destroy", &created]);
                return OpResult::err(OcfStatus::NotConfigured, format!("{} defines domain '{created}', not '{name}' (set the domain parameter)", cfg.config));
            }
            Ok(_) => log::log(log::Level::Info, &format!("domain {name} created from {}", cfg.config)),
        }
        wait_active(&cfg, &virsh, "start")
    }

    fn stop(ctx: OpContext) -> OpResult {
        let (cfg, virsh) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let name = &cfg.domain;
        match virsh.domstate(name) {
            Err(e) => return error(e),
            Ok(DomState::Missing | DomState::Off) => return OpResult::ok(),
            Ok(_) => {}
        }
        if !cfg.force_stop {
            match virsh.quick(&["shutdown", name]) {
                Err(e) => log::log(log::Level::Warn, &format!("graceful shutdown refused ({e}); destroying {name}")),
                Ok(_) => {
                    // Wait for the guest while the timeout leaves room to destroy it.
                    while clock::remaining_ms() > DESTROY_RESERVE_MS {
                        match virsh.domstate(name) {
                            Ok(s) if !is_active(&s) => return OpResult::ok(),
                            _ => {}
                        }
                        clock::sleep_ms(POLL_MS.min(clock::remaining_ms().saturating_sub(DESTROY_RESERVE_MS)));
                    }
                    log::log(log::Level::Warn, &format!("domain {name} did not shut down in time; destroying it"));
                }
            }
        }
        if let Err(e) = virsh.quick(&["destroy", name]) {
            // It may have gone down between the last look and the destroy.
            if !matches!(virsh.domstate(name), Ok(DomState::Missing | DomState::Off)) {
                return error(e);
            }
        }
        match virsh.domstate(name) {
            Ok(s) if is_active(&s) => error(format!("domain {name} still active after destroy")),
            Ok(_) => OpResult::ok(),
            Err(e) => error(e),
        }
    }

    fn monitor(ctx: OpContext) -> OpResult {
        match setup(&ctx) {
            Ok((cfg, virsh)) => monitor_with(&cfg, &virsh),
            Err(r) => r,
        }
    }

    fn promote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    fn demote(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }

    fn migrate_to(ctx: OpContext, target: String) -> OpResult {
        let (cfg, virsh) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let name = &cfg.domain;
        if target.is_empty() {
            return OpResult::err(OcfStatus::InvalidArgs, "migrate_to: no target node given");
        }
        match virsh.domstate(name) {
            Ok(s) if is_active(&s) => {}
            Ok(_) => return error(format!("migrate_to: domain {name} is not active here")),
            Err(e) => return error(e),
        }
        let moved = match &cfg.migration {
            Migration::Live { options, migrateuri } => cfg.destination_uri(&target).and_then(|dest| {
                log::log(log::Level::Info, &format!("migrating {name} live to {target} ({dest})"));
                let data_uri = migrateuri.as_deref().map(|u| u.replace("%n", &target));
                let mut args: Vec<&str> = vec!["migrate", "--live"];
                args.extend(options.iter().map(String::as_str));
                args.extend([name.as_str(), dest.as_str()]);
                args.extend(data_uri.as_deref());
                virsh.run_ok(&args, clock::remaining_ms())
            }),
            Migration::Save { dir } => {
                let file = DomainConfig::state_file(dir, name);
                log::log(log::Level::Info, &format!("migrating {name} to {target} through {file}"));
                virsh.run_ok(&["save", name, &file], clock::remaining_ms())
            }
        };
        if let Err(e) = moved {
            return error(format!("migrate_to {target}: {e}"));
        }
        match virsh.domstate(name) {
            Ok(s) if is_active(&s) => error(format!("migrate_to {target}: domain {name} still active here")),
            Ok(_) => OpResult::ok(),
            Err(e) => error(e),
        }
    }

    fn migrate_from(ctx: OpContext, source: String) -> OpResult {
        let (cfg, virsh) = match setup(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if source.is_empty() {
            return OpResult::err(OcfStatus::InvalidArgs, "migrate_from: no source node given");
        }
        if let Migration::Save { dir } = &cfg.migration {
            match virsh.domstate(&cfg.domain) {
                Ok(s) if is_active(&s) => {}
                Ok(_) => {
                    let file = DomainConfig::state_file(dir, &cfg.domain);
                    if let Err(e) = virsh.run_ok(&["restore", &file], clock::remaining_ms()) {
                        return error(format!("migrate_from {source}: {e}"));
                    }
                }
                Err(e) => return error(e),
            }
        }
        // Unlike the OCF script, the wait ends at the action's deadline.
        wait_active(&cfg, &virsh, &format!("migrate_from {source}"))
    }

    fn notify(_ctx: OpContext, _n: Notification) -> OpResult {
        OpResult::ok()
    }

    fn reload(_ctx: OpContext) -> OpResult {
        OpResult::status(OcfStatus::Unimplemented)
    }
}

export_resource_agent!(VirtualDomain);
