//! The docker agent's parameters, read and checked once per action.

use crate::run_opts::{self, CreateSpec};
use atrium_agent_sdk::{OpContext, words};

pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Where the container lives and how it is stopped: all that stop and a probe need, so they
/// work even when the rest of the configuration is broken.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub endpoint: String,
    pub force_kill: bool,
    pub reuse: bool,
}

/// Everything start and monitor need.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    pub target: Target,
    pub image: String,
    pub create: CreateSpec,
    pub monitor_cmd: Vec<String>,
    pub allow_pull: bool,
}

/// Docker's own rule for container names.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Target {
    pub fn from_ctx(ctx: &OpContext) -> Result<Target, String> {
        // Like the OCF agent: the container is named after the resource instance, with the
        // clone separator replaced, unless `name` says otherwise.
        let name = ctx.param_set("name").map(str::to_string).unwrap_or_else(|| ctx.instance.replace(':', "-"));
        if !valid_name(&name) {
            return Err(format!("parameter name: '{name}' is not a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"));
        }
        Ok(Target {
            name,
            endpoint: ctx.param_set("endpoint").unwrap_or(DEFAULT_ENDPOINT).to_string(),
            force_kill: ctx.param_bool("force_kill", false)?,
            reuse: ctx.param_bool("reuse", false)?,
        })
    }
}

impl DockerConfig {
    pub fn from_ctx(ctx: &OpContext) -> Result<DockerConfig, String> {
        let target = Target::from_ctx(ctx)?;
        let image = ctx.param_set("image").ok_or("parameter image is required")?.to_string();
        let split = |p: &str| words::split(ctx.param(p).unwrap_or_default()).map_err(|e| format!("parameter {p}: {e}"));
        let create = run_opts::parse(&split("run_opts")?, &split("run_cmd")?)?;
        let mount_points: Vec<String> =
            ctx.param("mount_points").unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('/').to_string()).collect();
        // The agent has no host filesystem: Docker creates a missing bind source itself, so a
        // mount point is only honoured as the host side of a -v in run_opts.
        if let Some(m) = mount_points.iter().find(|m| !create.bind_sources.contains(m)) {
            return Err(format!("parameter mount_points: '{m}' is not the host side of a -v/--volume in run_opts (Docker creates bind sources; the agent has no host filesystem)"));
        }
        Ok(DockerConfig { target, image, create, monitor_cmd: split("monitor_cmd")?, allow_pull: ctx.param_bool("allow_pull", false)? })
    }
}

