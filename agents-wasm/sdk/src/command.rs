//! Running an allowlisted program through the exec capability (argv only, never a shell),
//! with its output as text.

use crate::host::{clock, exec};

/// What a finished program left behind.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The program's own words about what happened: stderr, else stdout, trimmed.
    pub fn message(&self) -> String {
        let err = self.stderr.trim();
        if err.is_empty() { self.stdout.trim().to_string() } else { err.to_string() }
    }
}

/// Runs `program args..` with at most `timeout_ms` (and never past the action's deadline).
/// `Err` carries the host's reason: not allowlisted, not installed, timed out.
pub fn run(program: &str, args: &[String], timeout_ms: u64) -> Result<CommandOutput, String> {
    let out = exec::run(program, args, None, timeout_ms.min(clock::remaining_ms()))?;
    Ok(CommandOutput {
        code: out.code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Like [`run`], but a non-zero exit is an error too, quoting the command and its message.
pub fn run_ok(program: &str, args: &[String], timeout_ms: u64) -> Result<CommandOutput, String> {
    let out = run(program, args, timeout_ms)?;
    if out.success() {
        Ok(out)
    } else {
        let code = out.code.map_or_else(|| "a signal".to_string(), |c| format!("exit code {c}"));
        Err(format!("{program} {} failed with {code}: {}", args.join(" "), out.message()))
    }
}
