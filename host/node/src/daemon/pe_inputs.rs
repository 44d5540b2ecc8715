//! The DC's saved scheduler inputs (`pe-input-N.xml`, as Pacemaker keeps them): each is the
//! CIB the scheduler saw, with the time it was given as `execution-date`, so `atrium simulate`
//! replays the decision exactly.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

use atrium_cib::Cib;

/// Pacemaker's default for `pe-input-series-max`.
pub const DEFAULT_SERIES_MAX: u64 = 4000;

pub struct PeInputs {
    dir: PathBuf,
    next: u64,
}

impl PeInputs {
    /// Opens the series in `dir`, numbering on from the highest file there.
    pub fn open(dir: &Path) -> Result<PeInputs> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let highest = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| number_of(&e.file_name().to_string_lossy()))
            .max();
        Ok(PeInputs { dir: dir.to_path_buf(), next: highest.map_or(0, |n| n + 1) })
    }

    pub fn path(dir: &Path, n: u64) -> PathBuf {
        dir.join(format!("pe-input-{n}.xml"))
    }

    /// Saves `cib` as scheduled at `now` (seconds) and returns its number; keeps the newest
    /// `series_max` files.
    pub fn save(&mut self, cib: &Cib, now: i64, series_max: u64) -> Result<u64> {
        let n = self.next;
        let mut saved = cib.clone();
        saved.extra.insert("execution-date".into(), now.to_string());
        let path = Self::path(&self.dir, n);
        let tmp = path.with_extension("xml.tmp");
        std::fs::write(&tmp, saved.to_xml()).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        self.next += 1;
        if series_max > 0 && n >= series_max {
            let _ = std::fs::remove_file(Self::path(&self.dir, n - series_max));
        }
        Ok(n)
    }
}

fn number_of(name: &str) -> Option<u64> {
    name.strip_prefix("pe-input-")?.strip_suffix(".xml")?.parse().ok()
}

/// The time a saved input was scheduled at.
pub fn execution_date(cib: &Cib) -> Option<i64> {
    cib.extra.get("execution-date")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_continue_and_the_series_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let cib = Cib::from_xml(atrium_crm::EMPTY_CIB).unwrap();
        let mut pe = PeInputs::open(dir.path()).unwrap();
        for i in 0..3 {
            assert_eq!(pe.save(&cib, 100 + i, 2).unwrap(), i as u64);
        }
        assert!(!PeInputs::path(dir.path(), 0).exists());
        let saved = Cib::from_xml(&std::fs::read_to_string(PeInputs::path(dir.path(), 2)).unwrap()).unwrap();
        assert_eq!(execution_date(&saved), Some(102));
        let mut reopened = PeInputs::open(dir.path()).unwrap();
        assert_eq!(reopened.save(&cib, 0, 0).unwrap(), 3);
    }
}
