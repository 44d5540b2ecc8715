//! The README's main command: `atrium up` from a directory holding the quick start.

use anyhow::Result;
use std::process::Command;

#[test]
fn atrium_up_starts_the_quickstart_and_stops_cleanly() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("examples"))?;
    std::fs::write(dir.path().join("examples/quickstart.crm"), include_str!("../../examples/quickstart.crm"))?;
    let out = Command::new(atrium_tests::atrium_bin()?).current_dir(dir.path()).args(["up", "--once"]).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "atrium up failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("partition with quorum"), "{stdout}");
    for rsc in ["web", "db", "app", "legacy"] {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(&format!("* {rsc}\t"))).unwrap_or_else(|| panic!("{rsc} missing:\n{stdout}"));
        assert!(line.contains("Started node"), "{line}");
    }
    assert!(stdout.contains("Promoted: [ node"), "{stdout}");
    assert!(stderr.contains("stopping the cluster"), "{stderr}");
    // The client file pointing at the cluster is gone with it.
    assert!(!dir.path().join(".atrium/client.json").exists());
    Ok(())
}
