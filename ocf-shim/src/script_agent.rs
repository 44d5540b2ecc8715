//! An OCF resource-agent script behind the typed [`ResourceAgent`] contract.

use crate::config::ShimConfig;
use crate::env::{EXIT_REASON_PREFIX, ScriptIdentity, ocf_environment};
use crate::metadata_xml::parse_meta_data;
use crate::process::{self, Finished, ProcessError, RunSpec, Termination};
use atrium_contract::{
    Action, ActionRequest, AgentAddress, AgentClass, AgentError, MetaData, OcfStatus, OpResult, ResourceAgent,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `OCF_ROOT/resource.d/<provider>/<type>`, run with the environment Pacemaker gives.
#[derive(Debug, Clone)]
pub struct OcfScriptAgent {
    address: AgentAddress,
    provider: String,
    script: PathBuf,
    config: Arc<ShimConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is not an OCF agent address (expected ocf:PROVIDER:TYPE)")]
pub struct NotOcfAddress {
    pub address: String,
}

impl OcfScriptAgent {
    /// The agent is looked up when it runs, so a script installed later is picked up and a
    /// missing one is an operation result (not installed), as in Pacemaker.
    pub(crate) fn new(address: &AgentAddress, config: Arc<ShimConfig>) -> Result<Self, NotOcfAddress> {
        let provider = match (&address.class, &address.provider) {
            (AgentClass::Ocf, Some(p)) => p.clone(),
            _ => return Err(NotOcfAddress { address: address.to_string() }),
        };
        let script = config.ocf_root.join("resource.d").join(&provider).join(&address.kind);
        Ok(OcfScriptAgent { address: address.clone(), provider, script, config })
    }

    pub fn script_path(&self) -> &Path {
        &self.script
    }

    /// Runs any action name, including ones outside the contract (`status`, `methods`, or
    /// an unknown name to see how the agent answers).
    pub fn execute_named(&self, action: &str, request: &ActionRequest) -> OpResult {
        let span = tracing::info_span!("ocf", agent = %self.address, instance = %request.instance, action);
        let _enter = span.enter();
        let finished = match self.run(action, request, request.timeout) {
            Ok(f) => f,
            Err(e) => return spawn_failure(&self.address, e),
        };
        log_output(&finished, action != Action::MetaData.ocf_name());
        let result = op_result(&finished);
        tracing::debug!(code = result.exit_code(), status = %result.status, outcome = ?result.outcome, elapsed_ms = finished.elapsed.as_millis() as u64, "finished");
        result
    }

    /// The raw meta-data XML the agent prints.
    pub fn meta_data_xml(&self) -> Result<String, AgentError> {
        let agent = self.address.to_string();
        let request = ActionRequest::new(Action::MetaData, "");
        let finished =
            self.run(Action::MetaData.ocf_name(), &request, self.config.meta_data_timeout).map_err(|e| match e {
                ProcessError::NotFound { .. } | ProcessError::PermissionDenied { .. } => {
                    AgentError::NotInstalled { agent: agent.clone(), detail: e.to_string() }
                }
                other => AgentError::Run { agent: agent.clone(), detail: other.to_string() },
            })?;
        log_output(&finished, false);
        match finished.termination {
            Termination::Exited(0) => {}
            _ => {
                let result = op_result(&finished);
                let why = result.exit_reason.or_else(|| last_line(&finished.stderr)).unwrap_or_default();
                let detail = format!(
                    "meta-data failed ({}){}",
                    describe(finished.termination),
                    if why.is_empty() { String::new() } else { format!(": {why}") }
                );
                return Err(AgentError::MetaData { agent, detail });
            }
        }
        String::from_utf8(finished.stdout)
            .map_err(|e| AgentError::MetaData { agent, detail: format!("meta-data output is not UTF-8: {e}") })
    }

    fn run(
        &self,
        action: &str,
        request: &ActionRequest,
        timeout: std::time::Duration,
    ) -> Result<Finished, ProcessError> {
        let env = ocf_environment(
            request,
            ScriptIdentity { provider: &self.provider, kind: &self.address.kind },
            &self.config,
        );
        process::run(&RunSpec {
            program: &self.script,
            args: &[action],
            env: &env,
            stdin: None,
            timeout,
            kill_grace: self.config.kill_grace,
        })
    }
}

impl ResourceAgent for OcfScriptAgent {
    fn name(&self) -> String {
        self.address.to_string()
    }

    fn meta_data(&self) -> Result<MetaData, AgentError> {
        let xml = self.meta_data_xml()?;
        parse_meta_data(&self.name(), &xml)
            .map_err(|e| AgentError::MetaData { agent: self.name(), detail: e.to_string() })
    }

    fn execute(&self, request: &ActionRequest) -> OpResult {
        self.execute_named(request.action.ocf_name(), request)
    }
}

/// Maps how the script ended to the contract's result.
pub(crate) fn op_result(f: &Finished) -> OpResult {
    let reason = exit_reason(&f.stderr);
    let mut result = match f.termination {
        Termination::Exited(code) => match OcfStatus::from_code(code) {
            Some(status) => OpResult::new(status),
            None => OpResult { raw_code: Some(code), ..OpResult::new(OcfStatus::GenericError) },
        },
        Termination::Signaled(sig) => {
            return OpResult::failed(OcfStatus::GenericError, format!("killed by signal {sig}"));
        }
        Termination::TimedOut => {
            let mut r = OpResult::timed_out(format!("timed out after {} ms", f.elapsed.as_millis()));
            // The agent may have said why it was stuck before it was killed.
            if let Some(why) = reason {
                r.exit_reason = Some(format!("{}; {why}", r.exit_reason.unwrap_or_default()));
            }
            return r;
        }
    };
    result.exit_reason = reason;
    result
}

/// The last `ocf-exit-reason:` line on stderr, as Pacemaker reports it.
pub(crate) fn exit_reason(stderr: &[u8]) -> Option<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(EXIT_REASON_PREFIX))
        .map(|r| r.trim().to_string())
        .next_back()
}

fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes).lines().map(str::trim).rfind(|l| !l.is_empty()).map(str::to_string)
}

fn describe(t: Termination) -> String {
    match t {
        Termination::Exited(c) => format!("exit code {c}"),
        Termination::Signaled(s) => format!("killed by signal {s}"),
        Termination::TimedOut => "timed out".into(),
    }
}

fn spawn_failure(address: &AgentAddress, e: ProcessError) -> OpResult {
    let status = match e {
        ProcessError::NotFound { .. } => OcfStatus::NotInstalled,
        ProcessError::PermissionDenied { .. } => OcfStatus::InsufficientPrivileges,
        ProcessError::Spawn { .. } | ProcessError::Io { .. } => OcfStatus::GenericError,
    };
    tracing::warn!(error = %e, "agent could not run");
    OpResult::failed(status, format!("{address}: {e}"))
}

/// Agent output goes to tracing line by line: stderr (ocf_log, exit reasons) at info, stdout
/// at debug. Meta-data XML is not logged.
fn log_output(f: &Finished, with_stdout: bool) {
    if with_stdout {
        for line in String::from_utf8_lossy(&f.stdout).lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!(stream = "stdout", "{line}");
        }
    }
    for line in String::from_utf8_lossy(&f.stderr).lines().filter(|l| !l.trim().is_empty()) {
        tracing::info!(stream = "stderr", "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atrium_contract::OpOutcome;
    use std::time::Duration;

    fn finished(termination: Termination, stderr: &str) -> Finished {
        Finished {
            termination,
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn maps_codes_and_keeps_raw_ones() {
        for s in OcfStatus::ALL {
            let r = op_result(&finished(Termination::Exited(s.code()), ""));
            assert_eq!((r.status, r.raw_code, r.outcome), (s, None, OpOutcome::Done));
        }
        let r = op_result(&finished(Termination::Exited(42), ""));
        assert_eq!((r.status, r.raw_code, r.exit_code()), (OcfStatus::GenericError, Some(42), 42));
    }

    #[test]
    fn last_exit_reason_wins() {
        let stderr = "Nov 25 INFO: x\nocf-exit-reason:first\nnoise\n  ocf-exit-reason: second \n";
        assert_eq!(op_result(&finished(Termination::Exited(1), stderr)).exit_reason.as_deref(), Some("second"));
        assert_eq!(exit_reason(b"nothing here"), None);
    }

    #[test]
    fn timeout_and_signal_are_not_agent_answers() {
        let r = op_result(&finished(Termination::TimedOut, "ocf-exit-reason:waiting for peer"));
        assert_eq!(r.outcome, OpOutcome::TimedOut);
        assert_eq!(r.exit_reason.as_deref(), Some("timed out after 1500 ms; waiting for peer"));
        let r = op_result(&finished(Termination::Signaled(11), ""));
        assert_eq!((r.outcome, r.exit_reason.as_deref()), (OpOutcome::Error, Some("killed by signal 11")));
    }

    #[test]
    fn only_ocf_addresses() {
        let config = Arc::new(ShimConfig::new("/bin/true", Path::new("/tmp"), "n1"));
        let err = OcfScriptAgent::new(&"stonith:fence_x".parse().unwrap(), config.clone()).unwrap_err();
        assert!(err.to_string().contains("stonith:fence_x"), "{err}");
        let a = OcfScriptAgent::new(&"ocf:heartbeat:Dummy".parse().unwrap(), config).unwrap();
        assert_eq!(a.script_path(), Path::new("/usr/lib/ocf/resource.d/heartbeat/Dummy"));
    }
}
