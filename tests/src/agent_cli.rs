//! `atrium agent ...` one-off commands in a private data directory, and ocf-tester driving an
//! agent through the `ocf-wrap` wrapper.

use anyhow::{Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

pub struct AgentCli {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
}

/// Exit code and everything the command printed.
pub struct Ran {
    pub rc: i32,
    pub text: String,
}

impl AgentCli {
    pub fn new() -> Result<AgentCli> {
        let dir = tempfile::Builder::new().prefix("atrium-agent-test-").tempdir()?;
        // ocf-tester runs meta-data as `nobody`, who must reach the wrapper and the binary:
        // a readable folder holding a copy of atrium (the build directory may be under /root).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let bin = dir.path().join("atrium");
        std::fs::copy(crate::atrium_bin()?, &bin).context("copying the atrium binary")?;
        Ok(AgentCli { dir, bin })
    }

    pub fn run(&self, args: &[&str]) -> Result<Ran> {
        let out = Command::new(&self.bin).arg("--data-dir").arg(self.dir.path().join("data")).args(args).output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok(Ran { rc: out.status.code().unwrap_or(-1), text })
    }

    /// `atrium agent run AGENT ACTION` with `--param`s, `--grant`s and further flags.
    pub fn action(&self, agent: &str, action: &str, params: &[String], grants: &[&str], extra: &[&str]) -> Result<Ran> {
        let mut args = vec!["agent", "run", agent, action];
        for p in params {
            args.extend(["-p", p.as_str()]);
        }
        for g in grants {
            args.extend(["--grant", g]);
        }
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Installs an OCF wrapper for `agent` (with `grants`) and runs ocf-tester on it; returns
    /// whether it passed and its output.
    pub fn ocf_tester(&self, agent: &str, grants: &[&str], params: &[String]) -> Result<(bool, String)> {
        let wrapper = self.dir.path().join(agent.replace(':', "_"));
        let mut args = vec!["agent", "ocf-wrap", agent, "--install", wrapper.to_str().context("path")?];
        for g in grants {
            args.extend(["--grant", g]);
        }
        let installed = self.run(&args)?;
        anyhow::ensure!(installed.rc == 0, "ocf-wrap failed: {}", installed.text);
        let mut cmd = Command::new("ocf-tester");
        cmd.args(["-n", "t"]);
        for p in params {
            cmd.args(["-o", p]);
        }
        let out = cmd.arg(&wrapper).output().context("running ocf-tester (apt-get install resource-agents libxml2-utils)")?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success() && text.contains("passed all tests"), text))
    }
}
