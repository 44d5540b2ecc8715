//! How many transition actions a node runs at once: Pacemaker's node-action-limit, lowered
//! while the machine is loaded (its load bands on the 1-minute load average per core).

/// The job limit for `configured` (node-action-limit; 0 means 2 x cores) given the load
/// average `load1` on `cores` cores and the load-threshold (0.8 for Pacemaker's 80%).
pub fn job_limit(configured: u32, cores: usize, load1: f64, load_threshold: f64) -> usize {
    let max = if configured == 0 { 2 * cores.max(1) } else { configured as usize };
    let ratio = load1 / cores.max(1) as f64 / load_threshold.max(0.01);
    let limit = if ratio > 2.0 {
        1
    } else if ratio > 1.6 {
        max / 4
    } else if ratio > 1.2 {
        max / 2
    } else {
        max
    };
    limit.max(1)
}

/// The 1-minute load average, if the system reports one.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// `load-threshold` as a fraction: "80%" or "80" give 0.8.
pub fn parse_load_threshold(value: Option<&str>) -> f64 {
    value
        .and_then(|v| v.trim().trim_end_matches('%').parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .map_or(0.8, |v| v / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_pacemaker() {
        // 2 cores: default limit 4; threshold 0.8 -> bands at load 1.92, 2.56, 3.2.
        assert_eq!(job_limit(0, 2, 0.5, 0.8), 4);
        assert_eq!(job_limit(0, 2, 2.0, 0.8), 2);
        assert_eq!(job_limit(0, 2, 3.0, 0.8), 1);
        assert_eq!(job_limit(0, 2, 12.0, 0.8), 1);
        assert_eq!(job_limit(16, 2, 3.0, 0.8), 4);
        assert_eq!(job_limit(3, 2, 0.0, 0.8), 3);
    }

    #[test]
    fn threshold_spellings() {
        assert_eq!(parse_load_threshold(Some("80%")), 0.8);
        assert_eq!(parse_load_threshold(Some("50")), 0.5);
        assert_eq!(parse_load_threshold(Some("junk")), 0.8);
        assert_eq!(parse_load_threshold(None), 0.8);
    }
}
