//! The real Docker Engine for tests: whether it is there, a tiny local image (no image can be
//! pulled here), and the docker CLI to look behind the agents' backs.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

pub const SOCKET: &str = "/var/run/docker.sock";
/// The grant that lets the WASM docker agent reach the engine.
pub const GRANT: &str = "http:unix:///var/run/docker.sock";
/// The image the tests run: busybox alone, imported from a tarball, never pulled.
pub const TEST_IMAGE: &str = "atrium-test-busybox:loop";

/// `None` when the engine's socket is absent (the caller skips, saying why); an engine that
/// has a socket but does not answer is an error.
pub fn engine() -> Result<Option<()>> {
    if !Path::new(SOCKET).exists() {
        eprintln!("SKIPPED: no Docker Engine socket at {SOCKET} (install docker.io and start dockerd to run this test)");
        return Ok(None);
    }
    let out = Command::new("docker").arg("info").output().context("running `docker info` (is the docker CLI installed?)")?;
    if !out.status.success() {
        bail!("{SOCKET} exists but the engine does not answer `docker info`: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(Some(()))
}

pub fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker").args(args).output().with_context(|| format!("running docker {args:?}"))?;
    if !out.status.success() {
        bail!("docker {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Builds [`TEST_IMAGE`] from the host's static busybox unless it exists: a root with
/// /bin/busybox and links for the applets the tests use, imported with `docker import`.
pub fn ensure_test_image() -> Result<&'static str> {
    if docker(&["image", "inspect", TEST_IMAGE]).is_ok() {
        return Ok(TEST_IMAGE);
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).exists()).context("no busybox: apt-get install busybox-static")?;
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::copy(busybox, root.join("bin/busybox"))?;
    for applet in ["sh", "sleep", "true", "false", "cat", "kill", "test", "ls", "echo"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))?;
    }
    let tarball = dir.path().join("rootfs.tar");
    let tar = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tarball).arg(".").status()?;
    if !tar.success() {
        bail!("tar of the test image's root failed");
    }
    // A shell loop that leaves on SIGTERM: as PID 1, a bare sleep would ignore it and make
    // every graceful stop last the whole grace period.
    let cmd = r#"CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"#;
    docker(&["import", "--change", cmd, tarball.to_str().context("path")?, TEST_IMAGE])?;
    Ok(TEST_IMAGE)
}

/// Whether the container exists and runs, as the engine says.
pub fn running(name: &str) -> bool {
    docker(&["inspect", "--format", "{{.State.Running}}", name]).is_ok_and(|s| s == "true")
}

pub fn exists(name: &str) -> bool {
    docker(&["inspect", "--type", "container", name]).is_ok()
}

/// Removes a container left by an earlier run (no error if there is none).
pub fn remove(name: &str) {
    let _ = docker(&["rm", "-f", name]);
}
