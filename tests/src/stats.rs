//! Summaries of repeated measurements.

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

/// The median (the upper one of an even count); NaN for no samples.
pub fn median(v: &[f64]) -> f64 {
    let v = sorted(v);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

pub fn p95(v: &[f64]) -> f64 {
    let v = sorted(v);
    if v.is_empty() { f64::NAN } else { v[((v.len() as f64 * 0.95).ceil() as usize).saturating_sub(1).min(v.len() - 1)] }
}

/// Smallest and largest sample; NaNs for no samples.
pub fn range(v: &[f64]) -> (f64, f64) {
    let v = sorted(v);
    match (v.first(), v.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => (f64::NAN, f64::NAN),
    }
}
