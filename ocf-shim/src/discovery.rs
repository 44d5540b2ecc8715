//! Finding installed agents: OCF scripts under `OCF_ROOT/resource.d/<provider>/<type>` and
//! fence agents (`fence_*` executables), for `atrium agent list`.

use atrium_contract::AgentAddress;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("listing agents in {}: {source}", dir.display())]
pub struct DiscoveryError {
    pub dir: PathBuf,
    pub source: std::io::Error,
}

/// Every OCF agent under `ocf_root`, sorted. Provider directories and agents may be symlinks;
/// names starting with `.` are hidden (OCF 1.1), and names an address cannot hold are skipped.
pub fn list_ocf_agents(ocf_root: &Path) -> Result<Vec<AgentAddress>, DiscoveryError> {
    let mut found = Vec::new();
    for provider_dir in entries(&ocf_root.join("resource.d"))? {
        if !provider_dir.is_dir() {
            continue;
        }
        let provider = file_name(&provider_dir);
        for script in entries(&provider_dir)? {
            if is_executable_file(&script) {
                let address = format!("ocf:{provider}:{}", file_name(&script));
                match address.parse() {
                    Ok(a) => found.push(a),
                    Err(e) => tracing::debug!(%e, "skipping agent"),
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Every `fence_*` executable in `dir`, sorted.
pub fn list_fence_agents(dir: &Path) -> Result<Vec<AgentAddress>, DiscoveryError> {
    let mut found: Vec<AgentAddress> = entries(dir)?
        .into_iter()
        .filter(|p| file_name(p).starts_with("fence_") && is_executable_file(p))
        .filter_map(|p| format!("stonith:{}", file_name(&p)).parse().ok())
        .collect();
    found.sort();
    Ok(found)
}

/// Visible entries of `dir`; a missing directory has none.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, DiscoveryError> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(DiscoveryError { dir: dir.to_path_buf(), source }),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| DiscoveryError { dir: dir.to_path_buf(), source })?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            out.push(entry.path());
        }
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Follows symlinks, as the agent will be run through them.
fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(path: &Path, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn lists_visible_executables_through_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let rd = root.path().join("resource.d");
        write(&rd.join("acme/Web"), 0o755);
        write(&rd.join("acme/.Hidden"), 0o755);
        write(&rd.join("acme/README"), 0o644);
        write(&rd.join("acme/bad name"), 0o755);
        write(&rd.join(".secret/X"), 0o755);
        std::os::unix::fs::symlink(rd.join("acme"), rd.join("alias")).unwrap();
        let names: Vec<String> = list_ocf_agents(root.path()).unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(names, ["ocf:acme:Web", "ocf:alias:Web"]);
        assert!(list_ocf_agents(&root.path().join("missing")).unwrap().is_empty());

        let sbin = root.path().join("sbin");
        write(&sbin.join("fence_b"), 0o755);
        write(&sbin.join("fence_a"), 0o755);
        write(&sbin.join("fence_noexec"), 0o644);
        write(&sbin.join("crm_mon"), 0o755);
        let names: Vec<String> = list_fence_agents(&sbin).unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(names, ["stonith:fence_a", "stonith:fence_b"]);
    }
}
