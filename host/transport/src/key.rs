//! The cluster key: a file of random bytes shared by every node and remote (like Pacemaker's
//! /etc/pacemaker/authkey). It is only ever used as HKDF input keying material, so any length in
//! [`ClusterKey::MIN_LEN`, `ClusterKey::MAX_LEN`] works; it never crosses the wire.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// Whether [`ClusterKey::write_to`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Refuse,
    Allow,
}

/// Secret shared by all members of one cluster. Cloning is cheap enough (at most 4 KiB); the
/// bytes are wiped from memory on drop, and `Debug` shows only the fingerprint.
#[derive(Clone)]
pub struct ClusterKey {
    bytes: Zeroizing<Vec<u8>>,
}

impl ClusterKey {
    /// Shortest accepted key: 256 bits of entropy, assuming the file really is random.
    pub const MIN_LEN: usize = 32;
    /// Longest accepted key, as for Pacemaker's authkey.
    pub const MAX_LEN: usize = 4096;
    /// Length of keys made by [`ClusterKey::generate`].
    pub const GENERATED_LEN: usize = 256;

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self { bytes })
    }

    /// Wraps key material held in memory (for example read from a secret store).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(bytes);
        check_len(Path::new("<memory>"), bytes.len())?;
        Ok(Self { bytes })
    }

    /// Reads a key file. A file readable or writable by group or others is still loaded (the
    /// admin may be mid-setup) but logged as a warning, since anyone who can read it can join
    /// the cluster.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let io_err = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => KeyError::Missing {
                path: path.to_path_buf(),
            },
            _ => KeyError::Io {
                path: path.to_path_buf(),
                source,
            },
        };
        let meta = fs::metadata(path).map_err(io_err)?;
        // Check the size before reading so a wrong path (a log, a disk image) is not slurped.
        check_len(path, usize::try_from(meta.len()).unwrap_or(usize::MAX))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "cluster key file is accessible to group or others; run chmod 600 on it"
            );
        }
        let bytes = Zeroizing::new(fs::read(path).map_err(io_err)?);
        check_len(path, bytes.len())?;
        Ok(Self { bytes })
    }

    /// Writes the key with mode 0600. With [`Overwrite::Allow`] an existing file is replaced
    /// atomically (write a sibling, then rename), so a crash never leaves a half-written key.
    pub fn write_to(&self, path: impl AsRef<Path>, overwrite: Overwrite) -> Result<(), KeyError> {
        let path = path.as_ref();
        let io_err = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match overwrite {
            Overwrite::Refuse => {
                write_new(path, &self.bytes).map_err(|source| match source.kind() {
                    io::ErrorKind::AlreadyExists => KeyError::AlreadyExists {
                        path: path.to_path_buf(),
                    },
                    _ => io_err(source),
                })
            }
            Overwrite::Allow => {
                let tmp = sibling_tmp(path);
                let _ = fs::remove_file(&tmp);
                write_new(&tmp, &self.bytes).map_err(io_err)?;
                fs::rename(&tmp, path).map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    io_err(e)
                })
            }
        }
    }

    /// Short, stable identifier of the key for logs and `atrium status`, so admins can check
    /// that two nodes hold the same key. It is a domain-separated hash prefix: it reveals
    /// nothing useful about the key.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"atrium cluster key fingerprint\0")
            .chain_update(&*self.bytes)
            .finalize();
        hex::encode(&digest[..8])
    }

    /// A secret derived for another use of the key (for example the HTTP API's bearer token),
    /// domain-separated by `purpose` so it reveals nothing about the key or other purposes.
    pub fn derive_token(&self, purpose: &str) -> String {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"atrium derived token"), &self.bytes);
        let mut out = [0u8; 32];
        hk.expand(purpose.as_bytes(), &mut out).expect("32 bytes is a valid HKDF-SHA256 length");
        hex::encode(out)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

fn check_len(path: &Path, len: usize) -> Result<(), KeyError> {
    if (ClusterKey::MIN_LEN..=ClusterKey::MAX_LEN).contains(&len) {
        Ok(())
    } else {
        Err(KeyError::BadLength {
            path: path.to_path_buf(),
            len,
            min: ClusterKey::MIN_LEN,
            max: ClusterKey::MAX_LEN,
        })
    }
}

/// Creates `path` (failing if it exists) with mode 0600 from the start, so the key is never
/// briefly readable by others, and syncs it before returning.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The mode given to open() is filtered by the umask; 0600 must hold whatever it is.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sibling_tmp(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_write_load_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkey");
        let key = ClusterKey::generate().unwrap();
        key.write_to(&path, Overwrite::Refuse).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = ClusterKey::load(&path).unwrap();
        assert_eq!(loaded.as_bytes(), key.as_bytes());
        assert_eq!(loaded.fingerprint(), key.fingerprint());
    }

    #[test]
    fn generated_keys_differ() {
        let a = ClusterKey::generate().unwrap();
        let b = ClusterKey::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn refuses_to_overwrite_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkey");
        let first = ClusterKey::generate().unwrap();
        first.write_to(&path, Overwrite::Refuse).unwrap();
        let second = ClusterKey::generate().unwrap();
        let err = second.write_to(&path, Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, KeyError::AlreadyExists { .. }), "{err}");
        assert_eq!(
            ClusterKey::load(&path).unwrap().as_bytes(),
            first.as_bytes()
        );

        second.write_to(&path, Overwrite::Allow).unwrap();
        assert_eq!(
            ClusterKey::load(&path).unwrap().as_bytes(),
            second.as_bytes()
        );
        assert!(!sibling_tmp(&path).exists());
    }

    #[test]
    fn overwrite_tightens_a_loose_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkey");
        fs::write(&path, [7u8; 64]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        ClusterKey::generate()
            .unwrap()
            .write_to(&path, Overwrite::Allow)
            .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ClusterKey::load(dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, KeyError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("atrium cluster init"));
    }

    #[test]
    fn too_short_and_too_long_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, ClusterKey::MIN_LEN - 1, ClusterKey::MAX_LEN + 1] {
            let path = dir.path().join(format!("key{len}"));
            fs::write(&path, vec![1u8; len]).unwrap();
            let err = ClusterKey::load(&path).unwrap_err();
            assert!(
                matches!(err, KeyError::BadLength { len: l, .. } if l == len),
                "{err}"
            );
        }
        for len in [ClusterKey::MIN_LEN, ClusterKey::MAX_LEN] {
            assert!(ClusterKey::from_bytes(vec![1u8; len]).is_ok());
        }
    }

    #[test]
    fn derived_tokens_depend_on_key_and_purpose() {
        let a = ClusterKey::from_bytes(vec![1; 32]).unwrap();
        let b = ClusterKey::from_bytes(vec![2; 32]).unwrap();
        assert_eq!(a.derive_token("api"), a.derive_token("api"));
        assert_ne!(a.derive_token("api"), a.derive_token("other"));
        assert_ne!(a.derive_token("api"), b.derive_token("api"));
        assert_eq!(a.derive_token("api").len(), 64);
    }

    #[test]
    fn debug_shows_fingerprint_not_key() {
        let key = ClusterKey::from_bytes(vec![0xAB; 32]).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.fingerprint()));
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
    }
}
