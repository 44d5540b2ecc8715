//! Interval and timeout values: "60s", "1min", "3" (seconds), "500ms", "2h", "PT5M".

use crate::error::ValueError;

/// Parse a duration into milliseconds. A bare number means seconds, as in Pacemaker.
pub fn parse_duration_ms(s: &str) -> Result<u64, ValueError> {
    let err = || ValueError::Duration(s.to_string());
    let t = s.trim();
    if t.is_empty() {
        return Err(err());
    }
    if t.starts_with('P') || t.starts_with('p') {
        return parse_iso8601(t).ok_or_else(err);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err());
    }
    let n: u64 = num.parse().map_err(|_| err())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "ms" | "msec" | "msecs" => 1,
        "us" | "usec" | "usecs" => return Ok(n / 1000),
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(err()),
    };
    n.checked_mul(factor).ok_or_else(err)
}

/// ISO 8601 durations such as `PT5M`, `P1DT2H`, `PT0.5S` (years and months use 365 and 30 days).
fn parse_iso8601(t: &str) -> Option<u64> {
    let body = &t[1..];
    let mut total: f64 = 0.0;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in body.chars() {
        match c {
            'T' | 't' => {
                if !num.is_empty() || in_time {
                    return None;
                }
                in_time = true;
            }
            '0'..='9' | '.' => num.push(c),
            _ => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                let unit_s = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => 365.0 * 86400.0,
                    ('M', false) => 30.0 * 86400.0,
                    ('W', false) => 7.0 * 86400.0,
                    ('D', false) => 86400.0,
                    ('H', true) => 3600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return None,
                };
                total += v * unit_s;
                any = true;
            }
        }
    }
    if !num.is_empty() || !any || !total.is_finite() || total > 1e15 {
        return None;
    }
    Some((total * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_duration_ms("60s").unwrap(), 60_000);
        assert_eq!(parse_duration_ms("1min").unwrap(), 60_000);
        assert_eq!(parse_duration_ms("3").unwrap(), 3_000);
        assert_eq!(parse_duration_ms("0").unwrap(), 0);
        assert_eq!(parse_duration_ms("500ms").unwrap(), 500);
        assert_eq!(parse_duration_ms("2h").unwrap(), 7_200_000);
        assert_eq!(parse_duration_ms("10m").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("PT5M").unwrap(), 300_000);
        assert_eq!(parse_duration_ms("P1DT1S").unwrap(), 86_401_000);
        assert_eq!(parse_duration_ms("PT0.5S").unwrap(), 500);
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("abc").is_err());
        assert!(parse_duration_ms("5 parsecs").is_err());
        assert!(parse_duration_ms("P").is_err());
        assert!(parse_duration_ms("PT5").is_err());
        assert!(parse_duration_ms("99999999999999999999").is_err());
    }
}
