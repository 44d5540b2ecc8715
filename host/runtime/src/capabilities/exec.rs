//! The exec capability: runs allowlisted programs with argv only (no shell), a minimal
//! environment, its own process group, and a timeout no later than the action's deadline.

use crate::bindings::atrium::agent::exec::{Host, Output};
use crate::host_state::HostState;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Largest output kept from one command, per stream.
const OUTPUT_LIMIT: u64 = 16 * 1024 * 1024;

/// Finds the allowlisted program: an absolute path must be on the list itself; a bare name must
/// be on the list and is looked up in PATH.
fn resolve(program: &str, allow: &std::collections::BTreeSet<String>) -> Result<PathBuf, String> {
    if !allow.contains(program) {
        let list: Vec<&str> = allow.iter().map(String::as_str).collect();
        return Err(format!("exec of '{program}' denied: not on this agent's allowlist [{}]", list.join(", ")));
    }
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("exec of '{program}': not found in PATH"))
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created for the child.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

impl Host for HostState {
    fn run(&mut self, program: String, args: Vec<String>, stdin: Option<Vec<u8>>, timeout_ms: u64) -> Result<Output, String> {
        let exe = resolve(&program, &self.env.grants.exec)?;
        let limit = Duration::from_millis(timeout_ms).min(self.remaining());
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let span = tracing::debug_span!("exec", agent = &*self.env.agent, program = %exe.display());
        let _g = span.enter();
        let mut child = cmd.spawn().map_err(|e| format!("exec of '{program}' failed to start: {e}"))?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let read_all = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(r) = r {
                    let _ = r.take(OUTPUT_LIMIT).read_to_end(&mut buf);
                }
                buf
            })
        };
        let out_reader = read_all(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let err_reader = read_all(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= limit => {
                    kill_group(child.id());
                    let _ = child.wait();
                    return Err(format!("exec of '{program}' timed out after {} ms and was killed", limit.as_millis()));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(format!("exec of '{program}': wait failed: {e}")),
            }
        };
        // The program's own children may still hold the pipes open; they belong to it.
        kill_group(child.id());
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        tracing::debug!(code = ?status.code(), signal = ?status.signal(), "exec finished");
        Ok(Output { code: status.code(), stdout, stderr })
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::collections::BTreeSet;

    #[test]
    fn only_allowlisted_programs_resolve() {
        let allow: BTreeSet<String> = ["true".to_string(), "/bin/echo".to_string()].into();
        assert!(resolve("true", &allow).unwrap().ends_with("true"));
        assert_eq!(resolve("/bin/echo", &allow).unwrap(), std::path::PathBuf::from("/bin/echo"));
        let e = resolve("sh", &allow).unwrap_err();
        assert!(e.contains("denied") && e.contains("allowlist"), "{e}");
        assert!(resolve("/tmp/true", &allow).is_err(), "a path is not allowed by its base name");
    }
}
