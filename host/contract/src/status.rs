use serde::{Deserialize, Serialize};
use std::fmt;

/// OCF exit codes as a typed enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OcfStatus {
    Success,
    GenericError,
    InvalidArgs,
    Unimplemented,
    InsufficientPrivileges,
    NotInstalled,
    NotConfigured,
    NotRunning,
    RunningPromoted,
    FailedPromoted,
    Degraded,
    DegradedPromoted,
}

impl OcfStatus {
    pub const ALL: [OcfStatus; 12] = [
        OcfStatus::Success,
        OcfStatus::GenericError,
        OcfStatus::InvalidArgs,
        OcfStatus::Unimplemented,
        OcfStatus::InsufficientPrivileges,
        OcfStatus::NotInstalled,
        OcfStatus::NotConfigured,
        OcfStatus::NotRunning,
        OcfStatus::RunningPromoted,
        OcfStatus::FailedPromoted,
        OcfStatus::Degraded,
        OcfStatus::DegradedPromoted,
    ];

    /// The numeric exit code an OCF script uses for this status.
    pub fn code(self) -> i32 {
        match self {
            OcfStatus::Success => 0,
            OcfStatus::GenericError => 1,
            OcfStatus::InvalidArgs => 2,
            OcfStatus::Unimplemented => 3,
            OcfStatus::InsufficientPrivileges => 4,
            OcfStatus::NotInstalled => 5,
            OcfStatus::NotConfigured => 6,
            OcfStatus::NotRunning => 7,
            OcfStatus::RunningPromoted => 8,
            OcfStatus::FailedPromoted => 9,
            OcfStatus::Degraded => 190,
            OcfStatus::DegradedPromoted => 191,
        }
    }

    /// Maps an exit code back; `None` for codes outside the OCF set (the caller keeps the raw
    /// code and treats it as a generic error).
    pub fn from_code(code: i32) -> Option<OcfStatus> {
        OcfStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Pacemaker's names for the codes (as crm_mon and crm_simulate print them).
    pub fn name(self) -> &'static str {
        match self {
            OcfStatus::Success => "ok",
            OcfStatus::GenericError => "error",
            OcfStatus::InvalidArgs => "invalid parameter",
            OcfStatus::Unimplemented => "unimplemented feature",
            OcfStatus::InsufficientPrivileges => "insufficient privileges",
            OcfStatus::NotInstalled => "not installed",
            OcfStatus::NotConfigured => "not configured",
            OcfStatus::NotRunning => "not running",
            OcfStatus::RunningPromoted => "promoted",
            OcfStatus::FailedPromoted => "promoted (failed)",
            OcfStatus::Degraded => "OCF_DEGRADED",
            OcfStatus::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }
}

impl fmt::Display for OcfStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an action ended, apart from the agent's own answer: Pacemaker's op-status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpOutcome {
    /// The agent answered; `status` is its answer.
    Done,
    /// The action ran past its timeout and was cut off.
    TimedOut,
    /// The agent could not be run at all (load failure, sandbox denial, crash, trap).
    Error,
}

/// The result of one action, whatever kind of agent ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    pub status: OcfStatus,
    pub outcome: OpOutcome,
    pub exit_reason: Option<String>,
    /// The raw exit code when a script returned a code outside the OCF set.
    pub raw_code: Option<i32>,
}

impl OpResult {
    pub fn new(status: OcfStatus) -> Self {
        OpResult { status, outcome: OpOutcome::Done, exit_reason: None, raw_code: None }
    }

    pub fn with_reason(status: OcfStatus, reason: impl Into<String>) -> Self {
        OpResult { exit_reason: Some(reason.into()), ..OpResult::new(status) }
    }

    /// An action cut off at its deadline: reported as a timeout, an error to the scheduler.
    pub fn timed_out(reason: impl Into<String>) -> Self {
        OpResult { outcome: OpOutcome::TimedOut, ..OpResult::with_reason(OcfStatus::GenericError, reason) }
    }

    /// The agent could not run: a load failure, a denial, a trap or a crash.
    pub fn failed(status: OcfStatus, reason: impl Into<String>) -> Self {
        OpResult { outcome: OpOutcome::Error, ..OpResult::with_reason(status, reason) }
    }

    /// The exit code to report to a shell: the OCF code, or the raw one a script gave.
    pub fn exit_code(&self) -> i32 {
        self.raw_code.unwrap_or_else(|| self.status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for s in OcfStatus::ALL {
            assert_eq!(OcfStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(OcfStatus::from_code(10), None);
        assert_eq!(OcfStatus::from_code(189), None);
        assert_eq!(OcfStatus::Degraded.code(), 190);
        assert_eq!(OcfStatus::DegradedPromoted.code(), 191);
    }

    #[test]
    fn exit_code_prefers_raw_code() {
        let mut r = OpResult::new(OcfStatus::GenericError);
        assert_eq!(r.exit_code(), 1);
        r.raw_code = Some(42);
        assert_eq!(r.exit_code(), 42);
        assert_eq!(OpResult::timed_out("x").outcome, OpOutcome::TimedOut);
    }
}
