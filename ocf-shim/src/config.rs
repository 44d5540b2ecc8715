//! Where the shim finds agents and helpers, and the knobs every call shares.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default directory of OCF agents (`<root>/resource.d/<provider>/<type>`).
pub const DEFAULT_OCF_ROOT: &str = "/usr/lib/ocf";
/// Where fence-agents installs `fence_*`.
pub const DEFAULT_FENCE_DIR: &str = "/usr/sbin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimConfig {
    pub ocf_root: PathBuf,
    pub fence_dir: PathBuf,
    /// The executable that answers as crm_attribute / crm_master / crm_node / attrd_updater
    /// when invoked under those names (the `atrium` binary).
    pub helper_exe: PathBuf,
    /// Directory holding the helper symlinks; it becomes `HA_SBIN_DIR` and the head of `PATH`.
    pub helper_dir: PathBuf,
    /// The node attribute file (a `FileAttributeStore`) the helpers read and write.
    pub attributes_file: PathBuf,
    /// This node's name, as `crm_node -n` reports it.
    pub node_name: String,
    /// `HA_RSCTMP`: where agents keep per-boot state (Dummy's state file, pid files). Unset,
    /// agents use /run/resource-agents; several nodes on one machine each need their own.
    pub rsc_tmp_dir: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL for an agent that ran past its timeout.
    pub kill_grace: Duration,
    /// Timeout for `meta-data` (it has no operation of its own to take one from).
    pub meta_data_timeout: Duration,
    /// Sets `HA_debug=1` so ocf-shellfuncs agents log their debug lines.
    pub agent_debug: bool,
}

impl ShimConfig {
    /// Defaults for a node whose private state lives in `state_dir`.
    pub fn new(helper_exe: impl Into<PathBuf>, state_dir: &Path, node_name: impl Into<String>) -> Self {
        ShimConfig {
            ocf_root: PathBuf::from(DEFAULT_OCF_ROOT),
            fence_dir: PathBuf::from(DEFAULT_FENCE_DIR),
            helper_exe: helper_exe.into(),
            helper_dir: state_dir.join("ocf-helpers"),
            attributes_file: state_dir.join("node-attributes.json"),
            node_name: node_name.into(),
            rsc_tmp_dir: None,
            // Pacemaker sends SIGKILL straight away; a short grace lets agents clean up.
            kill_grace: Duration::from_secs(2),
            meta_data_timeout: Duration::from_secs(30),
            agent_debug: false,
        }
    }
}
