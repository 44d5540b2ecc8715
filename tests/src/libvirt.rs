//! libvirt without a hypervisor: a private `libvirtd` that loads no driver module (so it
//! needs no QEMU), reached through its own socket with the built-in test driver, and one
//! connection held open because the test driver forgets its state when the last one closes.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Libvirtd {
    pub dir: PathBuf,
    /// `test+unix:///default?socket=...` of this daemon.
    pub uri: String,
    daemon: Child,
    holder: Child,
}

/// The connection URI of a daemon whose sockets live in `dir`.
pub fn uri_for(dir: &Path) -> String {
    format!("test+unix:///default?socket={}/libvirt-sock", dir.display())
}

impl Libvirtd {
    /// Starts a daemon with its sockets, pid file and config in `dir`.
    pub fn start(dir: &Path) -> Result<Libvirtd> {
        std::fs::create_dir_all(dir)?;
        let drivers = dir.join("no-drivers");
        std::fs::create_dir_all(&drivers)?;
        let conf = dir.join("libvirtd.conf");
        std::fs::write(&conf, format!("unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n", dir.display()))?;
        let log = std::fs::File::create(dir.join("libvirtd.log"))?;
        let daemon = Command::new("libvirtd")
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(dir.join("libvirtd.pid"))
            .env("LIBVIRT_DRIVER_DIR", &drivers)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting libvirtd (apt-get install libvirt-daemon libvirt-clients)")?;
        let uri = uri_for(dir);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !dir.join("libvirt-sock").exists() {
            if Instant::now() > deadline {
                bail!("libvirtd made no socket in {}: {}", dir.display(), std::fs::read_to_string(dir.join("libvirtd.log")).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let holder = Command::new("virsh").args(["-c", &uri, "event", "--all", "--loop"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        let me = Libvirtd { dir: dir.to_path_buf(), uri, daemon, holder };
        while !me.virsh(&["list", "--all"])?.status.success() {
            if Instant::now() > deadline {
                bail!("libvirtd at {} does not answer", me.uri);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(me)
    }

    pub fn virsh(&self, args: &[&str]) -> Result<Output> {
        Ok(Command::new("virsh").arg("-c").arg(&self.uri).arg("--quiet").args(args).output()?)
    }

    /// `virsh domstate`, or `None` when the domain is not defined.
    pub fn domstate(&self, domain: &str) -> Result<Option<String>> {
        let out = self.virsh(&["domstate", domain])?;
        Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        for child in [&mut self.holder, &mut self.daemon] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A domain XML for the test driver. `ignores_shutdown` makes a graceful shutdown restart
/// the guest instead, so only a destroy stops it.
pub fn write_domain_xml(path: &Path, name: &str, ignores_shutdown: bool) -> Result<()> {
    let on_poweroff = if ignores_shutdown { "restart" } else { "destroy" };
    std::fs::write(
        path,
        format!(
            "<domain type='test'>\n  <name>{name}</name>\n  <memory unit='KiB'>65536</memory>\n  <vcpu>1</vcpu>\n  \
             <os><type arch='i686'>hvm</type></os>\n  <on_poweroff>{on_poweroff}</on_poweroff>\n</domain>\n"
        ),
    )?;
    Ok(())
}
