//! Node attributes (promotion scores and the like), as agents set them through crm_attribute or
//! the node-attributes capability.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error("node attribute store {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("node attribute store {path} is not valid JSON: {source}")]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("node attribute store: {0}")]
    Backend(String),
}

/// Where node attributes live. On a cluster node this is the replicated CIB status; standalone
/// (`atrium agent run`) it is a file.
pub trait NodeAttributeStore: Send + Sync {
    fn get(&self, node: &str, name: &str) -> Result<Option<String>, AttributeError>;
    fn set(&self, node: &str, name: &str, value: &str) -> Result<(), AttributeError>;
    fn delete(&self, node: &str, name: &str) -> Result<(), AttributeError>;
}

/// The promotion-score attribute name Pacemaker uses for a resource (`master-<rsc>`), with the
/// clone instance suffix stripped as crm_master does.
pub fn promotion_attribute(instance: &str) -> String {
    let base = instance.split(':').next().unwrap_or(instance);
    format!("master-{base}")
}

type Table = BTreeMap<String, BTreeMap<String, String>>;

/// A JSON file `{node: {name: value}}`, locked for each read-modify-write so concurrent agent
/// processes do not lose each other's updates.
#[derive(Debug, Clone)]
pub struct FileAttributeStore {
    path: PathBuf,
}

impl FileAttributeStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileAttributeStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> AttributeError {
        AttributeError::Io { path: self.path.clone(), source }
    }

    /// Runs `f` on the table under an exclusive lock on a sidecar `.lock` file. Writes go to a
    /// temporary file that replaces the table by rename, so a writer killed mid-write (an agent
    /// at its timeout) leaves the previous table intact.
    fn with_table<R>(&self, write: bool, f: impl FnOnce(&mut Table) -> R) -> Result<R, AttributeError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock: File = OpenOptions::new().write(true).create(true).truncate(false).open(&lock_path).map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io(e)),
        };
        let mut table: Table = if text.trim().is_empty() {
            Table::new()
        } else {
            serde_json::from_str(&text).map_err(|source| AttributeError::Corrupt { path: self.path.clone(), source })?
        };
        let result = f(&mut table);
        if write {
            let out = serde_json::to_string_pretty(&table).expect("a string map always serialises");
            let tmp = self.path.with_extension(format!("tmp.{}", std::process::id()));
            let mut file = File::create(&tmp).map_err(|e| self.io(e))?;
            file.write_all(out.as_bytes()).map_err(|e| self.io(e))?;
            file.sync_data().map_err(|e| self.io(e))?;
            std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        }
        Ok(result)
    }

    /// Every attribute of one node.
    pub fn of_node(&self, node: &str) -> Result<BTreeMap<String, String>, AttributeError> {
        self.with_table(false, |t| t.get(node).cloned().unwrap_or_default())
    }
}

impl NodeAttributeStore for FileAttributeStore {
    fn get(&self, node: &str, name: &str) -> Result<Option<String>, AttributeError> {
        self.with_table(false, |t| t.get(node).and_then(|m| m.get(name)).cloned())
    }

    fn set(&self, node: &str, name: &str, value: &str) -> Result<(), AttributeError> {
        self.with_table(true, |t| {
            t.entry(node.to_string()).or_default().insert(name.to_string(), value.to_string());
        })
    }

    fn delete(&self, node: &str, name: &str) -> Result<(), AttributeError> {
        self.with_table(true, |t| {
            if let Some(m) = t.get_mut(node) {
                m.remove(name);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_delete_persist_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attrs.json");
        let a = FileAttributeStore::new(&path);
        a.set("node1", "master-st", "10").unwrap();
        let b = FileAttributeStore::new(&path);
        assert_eq!(b.get("node1", "master-st").unwrap().as_deref(), Some("10"));
        assert_eq!(b.get("node2", "master-st").unwrap(), None);
        b.delete("node1", "master-st").unwrap();
        assert_eq!(a.get("node1", "master-st").unwrap(), None);
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attrs.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = FileAttributeStore::new(&path).get("n", "a").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn promotion_attribute_strips_clone_suffix() {
        assert_eq!(promotion_attribute("stateful:1"), "master-stateful");
        assert_eq!(promotion_attribute("db"), "master-db");
    }
}
