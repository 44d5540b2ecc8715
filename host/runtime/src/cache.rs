//! Compiled components cached on disk, keyed by the engine's compatibility hash and the
//! component's content digest, so each agent is compiled once per wasmtime build and config.

use crate::error::RuntimeError;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
}

/// Whether a load hit the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

impl ComponentCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        ComponentCache { dir, engine_key: format!("{:016x}", h.finish()) }
    }

    fn path_for(&self, bytes: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(bytes));
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// Loads the compiled form of `bytes`, compiling and storing it on a miss. A cache file that
    /// fails to load (truncated, from another build) is replaced.
    pub fn load(&self, engine: &Engine, agent: &str, bytes: &[u8]) -> Result<(Component, CacheOutcome), RuntimeError> {
        let path = self.path_for(bytes);
        // Read into memory rather than mmap the file: a cache file truncated behind our back
        // must not be able to crash the node with SIGBUS.
        if path.exists() && !owned_privately(&path) {
            tracing::warn!(path = %path.display(), "ignoring a cached component not owned by us or writable by others");
        } else if let Ok(cached) = std::fs::read(&path) {
            // SAFETY: the file and its folder belong to this user and nobody else can write
            // them (checked above); it was written by `precompile_component` under a name that
            // includes the engine's compatibility hash, and wasmtime checks the artifact header
            // against this engine.
            match unsafe { Component::deserialize(engine, &cached) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => tracing::warn!(path = %path.display(), "discarding unusable cached component: {e:#}"),
            }
        }
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| RuntimeError::Compile { agent: agent.into(), detail: format!("{e:#}") })?;
        // A cache we cannot write (a read-only home, another user's directory) costs a
        // compile per load, not the action.
        if let Err(e) = self.store(&path, &compiled) {
            tracing::warn!("not caching the compiled component: {e}");
        }
        // SAFETY: produced just above by this engine.
        let c = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| RuntimeError::Compile { agent: agent.into(), detail: format!("{e:#}") })?;
        Ok((c, CacheOutcome::Compiled))
    }

    fn store(&self, path: &std::path::Path, compiled: &[u8]) -> Result<(), RuntimeError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let io = |source| RuntimeError::Cache { path: path.to_path_buf(), source };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).map_err(io)?;
        if !owned_privately(&self.dir) {
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, compiled).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// Compiled code is native code: load it only from a file (and folder) that belongs to this
/// user and that nobody else can write, so no other local user can plant code in the cache.
fn owned_privately(path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let private = |p: &std::path::Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink() && m.uid() == me && m.mode() & 0o022 == 0)
    };
    private(path) && path.parent().is_none_or(private)
}
