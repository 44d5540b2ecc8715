//! Where a node or a one-off command keeps its files.

use std::path::{Path, PathBuf};

/// The data directory: `--data-dir`, else `$ATRIUM_DATA_DIR`, else `.atrium` in the working
/// directory (so `atrium status` finds the cluster `atrium up` started there).
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("ATRIUM_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".atrium"))
}

/// Compiled components are shared by every node and command of this user:
/// `$ATRIUM_CACHE_DIR`, else `$XDG_CACHE_HOME/atrium/components`, else
/// `~/.cache/atrium/components`, else (no home, as for a service) `<data dir>/cache`. Never a
/// shared temporary folder: the cache holds native code.
pub fn component_cache_dir(data_dir: &Path) -> PathBuf {
    if let Some(d) = std::env::var_os("ATRIUM_CACHE_DIR") {
        return PathBuf::from(d);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("atrium").join("components"))
        .unwrap_or_else(|| data_dir.join("cache"))
}

/// This machine's host name, the default node name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
