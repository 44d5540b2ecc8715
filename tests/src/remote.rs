//! Remote nodes for the tests: `atrium remote run` processes on loopback, and a man in the
//! middle that tampers with, duplicates or replays the frames a client sends to one.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{atrium_bin, free_port};

/// One `atrium remote run` process with its own data directory.
pub struct TestRemote {
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    key_file: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

impl TestRemote {
    /// Starts a remote node on a free loopback port, its files in `dir`, and waits until it
    /// answers a ping with `key_file`.
    pub fn start(name: &str, dir: &Path, key_file: &Path) -> Result<TestRemote> {
        std::fs::create_dir_all(dir)?;
        let mut remote = TestRemote { name: name.into(), dir: dir.into(), port: free_port()?, key_file: key_file.into(), bin: atrium_bin()?, child: None };
        remote.spawn()?;
        Ok(remote)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("stderr.log"))?;
        let child = Command::new(&self.bin)
            .args(["--data-dir"])
            .arg(&self.dir)
            .args(["remote", "run", "--listen", &self.addr(), "--key-file"])
            .arg(&self.key_file)
            .env("RUST_LOG", crate::log_filter())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting remote node {}", self.name))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ping(&self.addr(), &self.key_file)?.status.code() != Some(0) {
            if Instant::now() > deadline {
                bail!("remote node {} did not answer within 30 s:\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Whether the process ended (killed by a fence device, say).
    pub fn has_exited(&mut self) -> Result<bool> {
        Ok(match &mut self.child {
            Some(c) => c.try_wait()?.is_some(),
            None => true,
        })
    }

    /// SIGSTOP: the process hangs with its connections open, as a machine cut off would.
    pub fn freeze(&self) -> Result<()> {
        let pid = self.pid().context("not running")?;
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(pid as i32, libc::SIGSTOP);
        }
        Ok(())
    }

    /// kill -9.
    pub fn kill(&mut self) -> Result<()> {
        let mut child = self.child.take().with_context(|| format!("remote node {} is not running", self.name))?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Starts it again as after a reboot of its machine: its per-boot directory is gone.
    pub fn reboot(&mut self) -> Result<()> {
        if let Some(mut old) = self.child.take() {
            let _ = old.kill();
            old.wait()?;
        }
        let run = self.dir.join("run");
        if run.exists() {
            std::fs::remove_dir_all(&run)?;
        }
        self.spawn()
    }

    /// `atrium remote ping ADDR --key-file KEY --count 2` (through a proxy, say).
    pub fn ping(&self, addr: &str, key_file: &Path) -> Result<Output> {
        Ok(Command::new(&self.bin).args(["remote", "ping", addr, "--count", "2", "--timeout", "3s", "--key-file"]).arg(key_file).output()?)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Whether the remote's log shows `needle` within 5 s: the client may see its refusal
    /// before the remote has written why.
    pub fn logged(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !self.log().contains(needle) {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        true
    }

    /// Whether an OCF Dummy instance's state file exists on this remote node (the agent ran
    /// here and left it started).
    pub fn dummy_running(&self, rsc: &str) -> bool {
        self.dir.join("run").join("rsctmp").join(format!("Dummy-{rsc}.state")).exists()
    }
}

impl Drop for TestRemote {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the man in the middle does to the client's first frame after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mangle {
    /// Flip one bit of its ciphertext.
    Tamper,
    /// Send it twice.
    Duplicate,
    /// Remember it; in the next connection, send it in place of that one's first frame.
    ReplayIntoNextSession,
}

/// A TCP proxy in front of a remote node that passes handshakes through and mangles the
/// client's first frame.
pub struct Mitm {
    pub port: u16,
}

impl Mitm {
    pub fn start(target: String, mangle: Mangle) -> Result<Mitm> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let recorded: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (target, recorded) = (target.clone(), Arc::clone(&recorded));
                std::thread::spawn(move || {
                    let _ = relay(client, &target, mangle, &recorded);
                });
            }
        });
        Ok(Mitm { port })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn relay(mut client: TcpStream, target: &str, mangle: Mangle, recorded: &Mutex<Option<Vec<u8>>>) -> Result<()> {
    let mut server = TcpStream::connect(target)?;
    let (mut server_rx, mut client_tx) = (server.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_rx, &mut client_tx);
        let _ = client_tx.shutdown(Shutdown::Both);
    });
    // The client's handshake (see host/transport/README.md): hello, then its 32-byte proof.
    let mut hello = vec![0u8; 49];
    client.read_exact(&mut hello)?;
    let mut name = vec![0u8; hello[48] as usize];
    client.read_exact(&mut name)?;
    server.write_all(&[hello, name].concat())?;
    // The client sends its proof once it has the server's hello.
    let mut proof = [0u8; 32];
    client.read_exact(&mut proof)?;
    server.write_all(&proof)?;
    // The first frame: a 4-byte length, then that many bytes.
    let mut len = [0u8; 4];
    client.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    client.read_exact(&mut body)?;
    let frame = [len.to_vec(), body].concat();
    match mangle {
        Mangle::Tamper => {
            let mut bad = frame.clone();
            bad[6] ^= 0x01;
            server.write_all(&bad)?;
        }
        Mangle::Duplicate => {
            server.write_all(&frame)?;
            server.write_all(&frame)?;
        }
        Mangle::ReplayIntoNextSession => {
            let previous = recorded.lock().unwrap().replace(frame.clone());
            server.write_all(previous.as_deref().unwrap_or(&frame))?;
        }
    }
    std::io::copy(&mut client, &mut server)?;
    let _ = server.shutdown(Shutdown::Both);
    Ok(())
}
