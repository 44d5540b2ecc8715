//! The `virsh` commands the agent runs, through the exec capability (argv only).

use atrium_agent_sdk::command::{self, CommandOutput};

/// Timeout of one quick virsh call (domstate, shutdown, destroy ...).
const QUICK_MS: u64 = 30_000;

/// A domain's state as `virsh domstate` reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum DomState {
    /// Not defined on this hypervisor (a transient domain that stopped, or never started).
    Missing,
    /// Running, paused, blocked, in shutdown ...: the domain exists and holds resources.
    Active(String),
    /// Defined but shut off.
    Off,
    Crashed,
}

pub struct Virsh {
    uri: Option<String>,
}

impl Virsh {
    pub fn new(uri: Option<String>) -> Virsh {
        Virsh { uri }
    }

    fn argv(&self, quiet: bool, cmd: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = self.uri.iter().map(|u| format!("--connect={u}")).collect();
        if quiet {
            args.push("--quiet".into());
        }
        args.extend(cmd.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, quiet: bool, cmd: &[&str], timeout_ms: u64) -> Result<CommandOutput, String> {
        command::run("virsh", &self.argv(quiet, cmd), timeout_ms)
    }

    /// Runs a command that must succeed; the error quotes virsh.
    pub fn run_ok(&self, cmd: &[&str], timeout_ms: u64) -> Result<String, String> {
        let out = self.run(true, cmd, timeout_ms)?;
        if out.success() { Ok(out.stdout) } else { Err(format!("virsh {}: {}", cmd.join(" "), out.message())) }
    }

    pub fn quick(&self, cmd: &[&str]) -> Result<String, String> {
        self.run_ok(cmd, QUICK_MS)
    }

    pub fn version(&self) -> Result<String, String> {
        command::run_ok("virsh", &["--version".to_string()], QUICK_MS).map(|o| o.stdout.trim().to_string())
    }

    pub fn domstate(&self, domain: &str) -> Result<DomState, String> {
        let out = self.run(true, &["domstate", domain], QUICK_MS)?;
        if !out.success() {
            let msg = out.message();
            // virsh words it "failed to get domain" (and libvirt "Domain not found").
            if msg.contains("failed to get domain") || msg.contains("Domain not found") {
                return Ok(DomState::Missing);
            }
            return Err(format!("virsh domstate {domain}: {msg}"));
        }
        Ok(match out.stdout.trim() {
            "shut off" => DomState::Off,
            "crashed" => DomState::Crashed,
            "" | "no state" => return Err(format!("virsh domstate {domain} reported no state")),
            other => DomState::Active(other.to_string()),
        })
    }

    /// `virsh create`: starts a transient domain from an XML file; returns the domain's name
    /// as virsh reports it.
    pub fn create(&self, config: &str) -> Result<String, String> {
        let out = self.run(false, &["create", config], QUICK_MS)?;
        if !out.success() {
            return Err(format!("virsh create {config}: {}", out.message()));
        }
        created_name(&out.stdout).ok_or_else(|| format!("virsh create {config}: unexpected answer '{}'", out.stdout.trim()))
    }
}

/// The name in `Domain 'vd1' created from /path/vd1.xml`.
fn created_name(stdout: &str) -> Option<String> {
    let rest = stdout.split("Domain '").nth(1)?;
    let end = rest.rfind("' created")?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_created_name() {
        assert_eq!(super::created_name("Domain 'vd 1' created from /x.xml\n\n").as_deref(), Some("vd 1"));
        assert_eq!(super::created_name("nonsense"), None);
    }
}
