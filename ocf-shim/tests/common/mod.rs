//! Shared test setup: a shim whose helper links, attribute file and (optionally) OCF root live
//! in a temp dir, with the test helper binary standing in for `atrium`.

#![allow(dead_code)] // each test binary uses its own part of this module

use atrium_contract::{ActionRequest, FileAttributeStore};
use atrium_ocf_shim::{Shim, ShimConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const NODE: &str = "node1";

pub struct TestShim {
    pub dir: tempfile::TempDir,
    pub shim: Shim,
}

impl TestShim {
    /// A shim over the system's OCF agents (`/usr/lib/ocf`).
    pub fn system() -> TestShim {
        TestShim::build(|_| {})
    }

    /// A shim over a private OCF root (`<dir>/ocf`) for scripts the test writes.
    pub fn private_root() -> TestShim {
        TestShim::build(|c| c.ocf_root = c.helper_dir.parent().unwrap().join("ocf"))
    }

    pub fn build(tweak: impl FnOnce(&mut ShimConfig)) -> TestShim {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ShimConfig::new(env!("CARGO_BIN_EXE_atrium-ocf-helper"), dir.path(), NODE);
        config.kill_grace = Duration::from_millis(500);
        tweak(&mut config);
        let shim = Shim::new(config).unwrap();
        TestShim { dir, shim }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn attributes(&self) -> FileAttributeStore {
        FileAttributeStore::new(&self.shim.config().attributes_file)
    }

    /// Writes an executable script as `<ocf_root>/resource.d/test/<name>`.
    pub fn write_agent(&self, name: &str, body: &str) -> String {
        let path = self.shim.config().ocf_root.join("resource.d/test").join(name);
        write_script(&path, body);
        format!("ocf:test:{name}")
    }
}

pub fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn request(action: atrium_contract::Action, instance: &str, params: &[(&str, &str)]) -> ActionRequest {
    let mut r = ActionRequest::new(action, instance);
    r.params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    r
}

/// Whether `pid` is gone (or a zombie: killed, waiting for a reaper that may never come in a
/// container without an init).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits up to `limit` for `pid` to be gone.
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        if process_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    process_gone(pid)
}
