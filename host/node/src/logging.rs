//! One tracing stream per process, human-readable or JSON: on stderr and, for a node, also
//! appended to `atrium.log` in its data directory (in the same format).

use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// A daemon's default filter. openraft logs every vote and every step of an election at
/// info, some twenty lines per vote: in an election storm among 32 nodes that was 600,000
/// lines in two minutes, CPU the nodes needed to settle. Its warnings still show.
pub const NODE_DEFAULT: &str = "info,openraft=warn";

/// Installs the subscriber; `RUST_LOG` overrides the default level.
pub fn init(default_level: &str, format: LogFormat, file: Option<&Path>) -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let file = match file {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let f = std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening the log {}", path.display()))?;
            Some(Arc::new(f))
        }
        None => None,
    };
    let ansi = file.is_none();
    let writer = match file {
        Some(f) => BoxMakeWriter::new(std::io::stderr.and(f)),
        None => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Human => builder.with_target(false).with_ansi(ansi).compact().init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
