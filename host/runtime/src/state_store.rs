//! Per-resource persistent agent state (the `state` capability).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("agent state {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("agent state {path} is not valid JSON: {source}")]
    Corrupt { path: PathBuf, source: serde_json::Error },
}

/// Key/value state per resource instance. Node-local, like the state file of an OCF Dummy:
/// it records what this node's agent did.
pub trait AgentStateStore: Send + Sync {
    fn get(&self, instance: &str, key: &str) -> Result<Option<String>, StateError>;
    fn set(&self, instance: &str, key: &str, value: &str) -> Result<(), StateError>;
    fn delete(&self, instance: &str, key: &str) -> Result<(), StateError>;
}

/// What identifies one version of a state file: every write replaces the file by rename, so
/// a new version has a new inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp { ino: m.ino(), len: m.len(), mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()) }
    }
}

type Cached = HashMap<PathBuf, (Stamp, BTreeMap<String, String>)>;

/// One small JSON file per instance in a directory, replaced atomically on each write. Reads
/// are served from memory while the file is unchanged (one stat instead of open, read and
/// parse: monitors read state on every call), so other processes' writes are still seen.
#[derive(Debug, Clone, Default)]
pub struct DirStateStore {
    dir: PathBuf,
    cache: Arc<Mutex<Cached>>,
}

impl DirStateStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirStateStore { dir: dir.into(), cache: Arc::default() }
    }

    /// The file for an instance. Instance names are resource ids (plus `:N`); anything else is
    /// escaped so a name can never leave the directory.
    pub fn file_for(&self, instance: &str) -> PathBuf {
        let safe: String = instance
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') { c } else { '%' })
            .collect();
        let safe = if safe.starts_with('.') { format!("%{safe}") } else { safe };
        self.dir.join(format!("{safe}.json"))
    }

    /// Reads an instance's state. A file that is not valid JSON is moved aside (`.corrupt`) and
    /// reported once; after that the instance starts from empty state instead of failing for
    /// ever.
    fn read(&self, path: &Path) -> Result<BTreeMap<String, String>, StateError> {
        let stamp = match std::fs::metadata(path) {
            Ok(m) => Stamp::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.cache.lock().expect("state cache lock").remove(path);
                return Ok(BTreeMap::new());
            }
            Err(source) => return Err(StateError::Io { path: path.into(), source }),
        };
        if let Some((cached, map)) = self.cache.lock().expect("state cache lock").get(path)
            && *cached == stamp
        {
            return Ok(map.clone());
        }
        let map: BTreeMap<String, String> = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| {
                let _ = std::fs::rename(path, path.with_extension("json.corrupt"));
                StateError::Corrupt { path: path.into(), source }
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StateError::Io { path: path.into(), source }),
        };
        self.cache.lock().expect("state cache lock").insert(path.to_path_buf(), (stamp, map.clone()));
        Ok(map)
    }

    fn write(&self, path: &Path, map: &BTreeMap<String, String>) -> Result<(), StateError> {
        let io = |source| StateError::Io { path: path.into(), source };
        if map.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            };
        }
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        // A name of its own per write, so concurrent writers never share a temporary file; the
        // data reaches the disk before the rename makes it the state.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("json.tmp.{}.{n}", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&serde_json::to_vec(map).expect("string map serialises")).map_err(io)?;
        f.sync_data().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

impl AgentStateStore for DirStateStore {
    fn get(&self, instance: &str, key: &str) -> Result<Option<String>, StateError> {
        Ok(self.read(&self.file_for(instance))?.remove(key))
    }

    fn set(&self, instance: &str, key: &str, value: &str) -> Result<(), StateError> {
        let path = self.file_for(instance);
        let mut map = self.read(&path)?;
        map.insert(key.to_string(), value.to_string());
        self.write(&path, &map)
    }

    fn delete(&self, instance: &str, key: &str) -> Result<(), StateError> {
        let path = self.file_for(instance);
        let mut map = self.read(&path)?;
        if map.remove(key).is_some() {
            self.write(&path, &map)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStateStore::new(dir.path());
        assert_eq!(s.get("d:1", "running").unwrap(), None);
        s.set("d:1", "running", "1").unwrap();
        assert_eq!(s.get("d:1", "running").unwrap().as_deref(), Some("1"));
        assert_eq!(s.get("d:2", "running").unwrap(), None);
        s.delete("d:1", "running").unwrap();
        assert!(!s.file_for("d:1").exists(), "empty state leaves no file");
    }

    #[test]
    fn writes_by_another_handle_are_seen_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (DirStateStore::new(dir.path()), DirStateStore::new(dir.path()));
        a.set("d", "running", "1").unwrap();
        assert_eq!(b.get("d", "running").unwrap().as_deref(), Some("1"));
        a.set("d", "running", "2").unwrap();
        assert_eq!(b.get("d", "running").unwrap().as_deref(), Some("2"), "a replaced file is re-read");
        a.delete("d", "running").unwrap();
        assert_eq!(b.get("d", "running").unwrap(), None, "a removed file is forgotten");
    }

    #[test]
    fn corrupt_state_is_reported_once_then_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStateStore::new(dir.path());
        std::fs::write(s.file_for("x"), b"{broken").unwrap();
        assert!(matches!(s.get("x", "running"), Err(StateError::Corrupt { .. })));
        assert_eq!(s.get("x", "running").unwrap(), None);
        s.set("x", "running", "1").unwrap();
        assert_eq!(s.get("x", "running").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn instance_names_cannot_escape_the_directory() {
        let s = DirStateStore::new("/var/lib/x");
        assert_eq!(s.file_for("../../etc/passwd"), PathBuf::from("/var/lib/x/%..%..%etc%passwd.json"));
        assert_eq!(s.file_for(".hidden"), PathBuf::from("/var/lib/x/%.hidden.json"));
    }
}
