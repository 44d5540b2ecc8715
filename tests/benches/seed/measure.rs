//! What one cell's runs produced, for either system.

/// One run of a cell.
pub struct Run {
    /// The measured time, seconds.
    pub secs: f64,
    /// The largest peak RSS of one node (Atrium: its process; Pacemaker: its daemons and
    /// corosync together), bytes.
    pub peak_rss: u64,
    /// CPU seconds all nodes used during the run (agents included).
    pub cpu: f64,
    /// Failover only: detection, scheduling, fencing and agent starts, seconds.
    pub phases: Option<[f64; 4]>,
}

/// The runs of a cell, or why it could not be measured (with the runs that did finish).
#[derive(Default)]
pub struct Outcome {
    pub runs: Vec<Run>,
    pub error: Option<String>,
}

impl Outcome {
    /// Runs `cell`, which pushes each finished run; an error ends the cell and is kept with
    /// the runs so far (and printed in full on stderr).
    pub fn measure(what: &str, cell: impl FnOnce(&mut Vec<Run>) -> anyhow::Result<()>) -> Outcome {
        let mut runs = Vec::new();
        let error = cell(&mut runs).err().map(|e| {
            eprintln!("[{what}] FAILED: {e:#}");
            short_error(&e)
        });
        Outcome { runs, error }
    }

    pub fn skipped(why: &str) -> Outcome {
        Outcome { runs: Vec::new(), error: Some(why.to_string()) }
    }
}

/// The first line of an error chain, short enough for a table cell.
fn short_error(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 90 { format!("{}...", line.chars().take(90).collect::<String>()) } else { line.to_string() }
}
