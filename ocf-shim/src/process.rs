//! Running one agent process: its own process group, captured output, a deadline, and the
//! whole group killed (SIGTERM, then SIGKILL after a grace period) when the deadline passes.
//!
//! One thread drives everything with `poll(2)` over stdout, stderr and a pidfd, so a call costs
//! no extra threads and notices the exit at once. Output is read until the agent itself exits,
//! not until end-of-file: daemons an agent starts may inherit the pipes and keep them open.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug)]
pub struct RunSpec<'a> {
    pub program: &'a Path,
    pub args: &'a [&'a str],
    /// The complete environment: nothing is inherited from the caller.
    pub env: &'a BTreeMap<String, String>,
    /// Written to the agent's stdin, which is then closed; `None` gives `/dev/null`. Must fit in
    /// a pipe buffer (64 KiB): it is written before the agent is waited on.
    pub stdin: Option<&'a [u8]>,
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL once the timeout has passed.
    pub kill_grace: Duration,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    /// Killed by a signal we did not send.
    Signaled(i32),
    /// Ran past its timeout; its process group was killed.
    TimedOut,
}

#[derive(Debug)]
pub struct Finished {
    pub termination: Termination,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{}: not found", program.display())]
    NotFound { program: PathBuf },
    #[error("{}: permission denied (not executable?)", program.display())]
    PermissionDenied { program: PathBuf },
    #[error("{}: cannot start: {source}", program.display())]
    Spawn { program: PathBuf, source: std::io::Error },
    #[error("{}: {what}: {source}", program.display())]
    Io { program: PathBuf, what: &'static str, source: std::io::Error },
}

/// Runs `spec` to completion or timeout.
pub fn run(spec: &RunSpec<'_>) -> Result<Finished, ProcessError> {
    let program = spec.program.to_path_buf();
    let started = Instant::now();
    let mut child = Command::new(spec.program)
        .args(spec.args)
        .env_clear()
        .envs(spec.env)
        // Agents must not pin whatever directory the daemon happens to run in.
        .current_dir("/")
        .process_group(0)
        .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| match source.kind() {
            ErrorKind::NotFound => ProcessError::NotFound { program: program.clone() },
            ErrorKind::PermissionDenied => ProcessError::PermissionDenied { program: program.clone() },
            _ => ProcessError::Spawn { program: program.clone(), source },
        })?;
    let pid = child.id() as libc::pid_t;
    // From here on the group must not outlive an error: kill it before returning one.
    let result = supervise(&mut child, pid, spec, started);
    if result.is_err() {
        kill_group(pid, libc::SIGKILL);
        let _ = child.wait();
    }
    result
}

fn supervise(
    child: &mut Child,
    pid: libc::pid_t,
    spec: &RunSpec<'_>,
    started: Instant,
) -> Result<Finished, ProcessError> {
    let io_err = |what: &'static str| {
        let program = spec.program.to_path_buf();
        move |source: std::io::Error| ProcessError::Io { program, what, source }
    };
    let pidfd = pidfd_open(pid).map_err(io_err("pidfd_open"))?;
    if let (Some(data), Some(mut input)) = (spec.stdin, child.stdin.take()) {
        // An agent that exits without reading its input is not an error (EPIPE).
        if let Err(e) = input.write_all(data)
            && e.kind() != ErrorKind::BrokenPipe
        {
            return Err(io_err("writing stdin")(e));
        }
    }
    let mut stdout = Pipe::new(child.stdout.take().map(OwnedFd::from)).map_err(io_err("stdout"))?;
    let mut stderr = Pipe::new(child.stderr.take().map(OwnedFd::from)).map_err(io_err("stderr"))?;

    let mut phase = Phase::Running;
    let mut deadline = Some(started + spec.timeout);
    loop {
        let wait_ms = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32,
            None => -1,
        };
        let mut fds = vec![pollfd(pidfd.as_raw_fd())];
        for p in [&stdout, &stderr] {
            if let Some(fd) = p.raw() {
                fds.push(pollfd(fd));
            }
        }
        // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(io_err("poll")(e));
        }
        let exited = fds[0].revents != 0;
        for f in &fds[1..] {
            if f.revents != 0 {
                for p in [&mut stdout, &mut stderr] {
                    if p.raw() == Some(f.fd) {
                        // One read per wake-up: an agent that never stops writing must not
                        // keep us from checking the deadline.
                        p.read_some(CHUNK).map_err(io_err("reading output"))?;
                    }
                }
            }
        }
        if exited {
            // Whatever the agent wrote before exiting is in the pipes now.
            // Bounded, as a child may still hold the pipe and keep writing.
            stdout.read_some(DRAIN_LIMIT).map_err(io_err("reading output"))?;
            stderr.read_some(DRAIN_LIMIT).map_err(io_err("reading output"))?;
            if phase != Phase::Running {
                // The leader is a zombie, so its pid still names the group: finish off
                // children that ignored SIGTERM.
                kill_group(pid, libc::SIGKILL);
            }
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            match phase {
                Phase::Running => {
                    kill_group(pid, libc::SIGTERM);
                    phase = Phase::Terminating;
                    deadline = Some(Instant::now() + spec.kill_grace);
                }
                Phase::Terminating => {
                    kill_group(pid, libc::SIGKILL);
                    phase = Phase::Killed;
                    deadline = None;
                }
                Phase::Killed => unreachable!("no deadline once killed"),
            }
        }
    }
    let status = child.wait().map_err(io_err("wait"))?;
    let termination = match (phase, status.code(), status.signal()) {
        (Phase::Terminating | Phase::Killed, _, _) => Termination::TimedOut,
        (Phase::Running, Some(code), _) => Termination::Exited(code),
        (Phase::Running, None, Some(sig)) => Termination::Signaled(sig),
        (Phase::Running, None, None) => unreachable!("a reaped process exited or was signalled"),
    };
    Ok(Finished { termination, stdout: stdout.buf, stderr: stderr.buf, elapsed: started.elapsed() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Terminating,
    Killed,
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}

fn kill_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: plain syscall; ESRCH (group already gone) is the only expected failure.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

fn pidfd_open(pid: libc::pid_t) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes (pid, flags) and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed us this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Bytes read per wake-up of the supervision loop.
const CHUNK: usize = 64 * 1024;
/// What is read from a pipe once the agent has exited (a pipe buffer holds 64 KiB).
const DRAIN_LIMIT: usize = 1024 * 1024;
/// Output kept per stream; the rest is read and dropped so the agent never blocks on a full pipe.
const MAX_CAPTURE: usize = 4 * 1024 * 1024;

/// One output pipe, non-blocking, collected into `buf` until end-of-file.
struct Pipe {
    file: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>) -> std::io::Result<Pipe> {
        if let Some(fd) = &fd {
            // SAFETY: fcntl on a descriptor we own.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
            if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Pipe { file: fd.map(std::fs::File::from), buf: Vec::new() })
    }

    fn raw(&self) -> Option<RawFd> {
        self.file.as_ref().map(|f| f.as_raw_fd())
    }

    /// Reads what is available, up to `limit` bytes.
    fn read_some(&mut self, limit: usize) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        let mut chunk = [0u8; 16 * 1024];
        let mut total = 0;
        while total < limit {
            match file.read(&mut chunk) {
                Ok(0) => {
                    self.file = None;
                    return Ok(());
                }
                Ok(n) => {
                    total += n;
                    let room = MAX_CAPTURE.saturating_sub(self.buf.len());
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Finished {
        let env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
        run(&RunSpec {
            program: Path::new("/bin/sh"),
            args: &["-c", script],
            env: &env,
            stdin: None,
            timeout,
            kill_grace: Duration::from_millis(200),
        })
        .unwrap()
    }

    #[test]
    fn captures_output_and_exit_code() {
        let f = sh("echo out; echo err >&2; exit 42", Duration::from_secs(10));
        assert_eq!(f.termination, Termination::Exited(42));
        assert_eq!(f.stdout, b"out\n");
        assert_eq!(f.stderr, b"err\n");
    }

    #[test]
    fn environment_is_exactly_the_given_one() {
        let f = sh("env | sort", Duration::from_secs(10));
        let text = String::from_utf8(f.stdout).unwrap();
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.split('=').next().unwrap())
            .filter(|n| *n != "PWD" && *n != "SHLVL" && *n != "_")
            .collect();
        assert_eq!(names, ["PATH"]);
    }

    #[test]
    fn does_not_wait_for_background_children_holding_the_pipes() {
        let f = sh("sleep 30 & echo $!", Duration::from_secs(20));
        let bg: i32 = String::from_utf8(f.stdout).unwrap().trim().parse().unwrap();
        // SAFETY: plain syscall on the pid the script reported.
        unsafe { libc::kill(bg, libc::SIGKILL) };
        // Finishing at all (rather than timing out after 20 s) shows the shim did not wait for
        // the sleep's copy of the pipe to close.
        assert_eq!(f.termination, Termination::Exited(0));
    }

    #[test]
    fn endless_output_neither_blocks_the_timeout_nor_fills_memory() {
        let f = sh("yes", Duration::from_secs(1));
        assert_eq!(f.termination, Termination::TimedOut);
        assert_eq!(f.stdout.len(), MAX_CAPTURE);
        assert!(f.elapsed < Duration::from_secs(2), "{:?}", f.elapsed);
    }

    #[test]
    fn missing_program_is_not_found() {
        let env = BTreeMap::new();
        let err = run(&RunSpec {
            program: Path::new("/nonexistent/agent"),
            args: &[],
            env: &env,
            stdin: None,
            timeout: Duration::from_secs(1),
            kill_grace: Duration::from_secs(1),
        })
        .unwrap_err();
        assert!(matches!(err, ProcessError::NotFound { .. }), "{err}");
    }

    #[test]
    fn stdin_is_delivered() {
        let env = BTreeMap::new();
        let f = run(&RunSpec {
            program: Path::new("/bin/cat"),
            args: &[],
            env: &env,
            stdin: Some(b"action=status\n"),
            timeout: Duration::from_secs(10),
            kill_grace: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!(f.stdout, b"action=status\n");
    }
}
