//! A fence-agents executable (`fence_*`) behind the typed [`FenceAgent`] contract.
//!
//! Calls use the stdin protocol Pacemaker's fencer uses: no arguments, and `key=value` lines
//! on stdin (`action=`, the target as `plug=` or the device's `pcmk_host_argument`, then the
//! device parameters). Exit 0 is success; for `status`, 0 means on and 2 means off.

use crate::config::ShimConfig;
use crate::metadata_xml::parse_meta_data;
use crate::process::{self, Finished, ProcessError, RunSpec, Termination};
use crate::script_agent::exit_reason;
use atrium_contract::{AgentAddress, AgentClass, AgentError, FenceAgent, FenceRequest, MetaData, PowerState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Device parameters with this prefix configure the cluster's use of the device and are not
/// passed to the agent.
const PACEMAKER_PREFIX: &str = "pcmk_";

#[derive(Debug, Clone)]
pub struct FenceScriptAgent {
    address: AgentAddress,
    path: PathBuf,
    config: Arc<ShimConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is not a fence agent address (expected stonith:fence_NAME)")]
pub struct NotFenceAddress {
    pub address: String,
}

impl FenceScriptAgent {
    pub(crate) fn new(address: &AgentAddress, config: Arc<ShimConfig>) -> Result<Self, NotFenceAddress> {
        if address.class != AgentClass::Stonith {
            return Err(NotFenceAddress { address: address.to_string() });
        }
        let path = config.fence_dir.join(&address.kind);
        Ok(FenceScriptAgent { address: address.clone(), path, config })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw metadata XML the agent prints.
    pub fn meta_data_xml(&self) -> Result<String, AgentError> {
        let f = self.call("metadata", &[], None, self.config.meta_data_timeout)?;
        let f = self.expect_success("metadata", f)?;
        String::from_utf8(f.stdout).map_err(|e| AgentError::MetaData {
            agent: self.name(),
            detail: format!("metadata output is not UTF-8: {e}"),
        })
    }

    /// Runs `action` with the device parameters, the target, and the timeout of `req`.
    fn run_action(&self, req: &FenceRequest, action: &str, plug: Option<&str>) -> Result<Finished, AgentError> {
        let mut lines: Vec<(String, String)> = Vec::new();
        if let Some(p) = plug {
            let host_arg = req.params.get("pcmk_host_argument").map_or("plug", String::as_str);
            lines.push((host_arg.to_string(), p.to_string()));
            // The fencer also names the target node; fence_kdump and others go by it.
            lines.push(("nodename".into(), p.to_string()));
        }
        for (k, v) in &req.params {
            if !k.starts_with(PACEMAKER_PREFIX) {
                lines.push((k.clone(), v.clone()));
            }
        }
        let span = tracing::info_span!("fence", agent = %self.address, device = %req.device, action, target = plug.unwrap_or(""));
        let _enter = span.enter();
        self.call(action, &lines, Some(&req.device), req.timeout)
    }

    fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        device: Option<&str>,
        timeout: Duration,
    ) -> Result<Finished, AgentError> {
        let mut input = format!("action={action}\n");
        for (k, v) in params {
            // The protocol is line-based: a newline inside a value would inject another key.
            if k.contains(['\n', '=']) || v.contains('\n') {
                return Err(AgentError::Run {
                    agent: self.name(),
                    detail: format!("device parameter {k:?} cannot be passed on a line of its own"),
                });
            }
            input.push_str(&format!("{k}={v}\n"));
        }
        let env = std::collections::BTreeMap::from([
            ("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ]);
        let finished = process::run(&RunSpec {
            program: &self.path,
            args: &[],
            env: &env,
            stdin: Some(input.as_bytes()),
            timeout,
            kill_grace: self.config.kill_grace,
        })
        .map_err(|e| match e {
            ProcessError::NotFound { .. } | ProcessError::PermissionDenied { .. } => {
                AgentError::NotInstalled { agent: self.name(), detail: e.to_string() }
            }
            other => AgentError::Run { agent: self.name(), detail: other.to_string() },
        })?;
        for line in String::from_utf8_lossy(&finished.stderr).lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(stream = "stderr", device = device.unwrap_or(""), "{line}");
        }
        Ok(finished)
    }

    fn expect_success(&self, action: &str, f: Finished) -> Result<Finished, AgentError> {
        match f.termination {
            Termination::Exited(0) => Ok(f),
            t => Err(self.failure(action, t, &f)),
        }
    }

    fn failure(&self, action: &str, t: Termination, f: &Finished) -> AgentError {
        let how = match t {
            Termination::Exited(c) => format!("exit code {c}"),
            Termination::Signaled(s) => format!("killed by signal {s}"),
            Termination::TimedOut => format!("timed out after {} ms", f.elapsed.as_millis()),
        };
        let mut why = error_summary(&f.stderr);
        if why.is_empty() {
            // Some agents (fence_ack_manual) print their usage on stdout instead.
            why = first_line(&f.stdout).map(|l| format!(": {l}")).unwrap_or_default();
        }
        AgentError::Run { agent: self.name(), detail: format!("{action} failed ({how}){why}") }
    }
}

/// The agent's own explanation: the last line that reports an error (fencing.py prints
/// `ERROR: Failed: ...`), else the last line of stderr; Python warnings are skipped.
fn error_summary(stderr: &[u8]) -> String {
    if let Some(r) = exit_reason(stderr) {
        return format!(": {r}");
    }
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("Warning:") && !l.starts_with("import "))
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.contains("ERROR") || l.contains("Failed"))
        .or(lines.last())
        .map(|l| format!(": {l}"))
        .unwrap_or_default()
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes).lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

impl FenceAgent for FenceScriptAgent {
    fn name(&self) -> String {
        self.address.to_string()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        let xml = self.meta_data_xml()?;
        parse_meta_data(&self.name(), &xml)
            .map_err(|e| AgentError::MetaData { agent: self.name(), detail: e.to_string() })
    }

    fn list(&self, req: &FenceRequest) -> Result<Vec<String>, AgentError> {
        let f = self.run_action(req, "list", None)?;
        let f = self.expect_success("list", f)?;
        // One target per line, optionally followed by `,alias`.
        Ok(String::from_utf8_lossy(&f.stdout)
            .lines()
            .filter_map(|l| l.split(',').next().map(str::trim).filter(|p| !p.is_empty()).map(str::to_string))
            .collect())
    }

    fn status(&self, req: &FenceRequest, plug: &str) -> Result<PowerState, AgentError> {
        let f = self.run_action(req, "status", Some(plug))?;
        match f.termination {
            Termination::Exited(0) => Ok(PowerState::On),
            Termination::Exited(2) => Ok(PowerState::Off),
            t => Err(self.failure("status", t, &f)),
        }
    }

    fn on(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        let f = self.run_action(req, "on", Some(plug))?;
        self.expect_success("on", f).map(drop)
    }

    fn off(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        let f = self.run_action(req, "off", Some(plug))?;
        self.expect_success("off", f).map(drop)
    }

    fn reboot(&self, req: &FenceRequest, plug: &str) -> Result<(), AgentError> {
        let f = self.run_action(req, "reboot", Some(plug))?;
        self.expect_success("reboot", f).map(drop)
    }

    fn monitor(&self, req: &FenceRequest) -> Result<(), AgentError> {
        let f = self.run_action(req, "monitor", None)?;
        self.expect_success("monitor", f).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_summary_prefers_agent_errors_over_warnings() {
        let stderr = b"/usr/sbin/fence_x:3: DeprecationWarning: 'pipes' is deprecated\n  import pipes\n2026-11-25 ERROR: Failed: Unable to obtain correct plug status\nsome trailer\n";
        assert_eq!(error_summary(stderr), ": 2026-11-25 ERROR: Failed: Unable to obtain correct plug status");
        assert_eq!(error_summary(b"just this\n"), ": just this");
        assert_eq!(error_summary(b""), "");
    }

    #[test]
    fn only_stonith_addresses() {
        let config = Arc::new(ShimConfig::new("/bin/true", Path::new("/tmp"), "n1"));
        assert!(FenceScriptAgent::new(&"ocf:heartbeat:Dummy".parse().unwrap(), config.clone()).is_err());
        let f = FenceScriptAgent::new(&"stonith:fence_ipmilan".parse().unwrap(), config).unwrap();
        assert_eq!(f.path(), Path::new("/usr/sbin/fence_ipmilan"));
    }
}
