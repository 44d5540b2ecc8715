//! Scores: integers saturated at +/-INFINITY (1,000,000), with Pacemaker's arithmetic where
//! -INFINITY dominates +INFINITY.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::ValueError;

/// The magnitude of INFINITY.
pub const INFINITY: i64 = 1_000_000;

/// A placement score. Always within `-INFINITY..=INFINITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Score(i64);

impl Score {
    pub const ZERO: Score = Score(0);
    pub const INFINITY: Score = Score(INFINITY);
    pub const NEG_INFINITY: Score = Score(-INFINITY);

    /// A score from an integer, clamped to +/-INFINITY.
    pub fn new(v: i64) -> Score {
        Score(v.clamp(-INFINITY, INFINITY))
    }

    pub fn value(self) -> i64 {
        self.0
    }

    pub fn is_pos_inf(self) -> bool {
        self.0 >= INFINITY
    }

    pub fn is_neg_inf(self) -> bool {
        self.0 <= -INFINITY
    }

    /// Pacemaker's addition: -INFINITY wins over everything, then +INFINITY, otherwise a
    /// clamped sum (a finite sum reaching the bound becomes that bound).
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Score) -> Score {
        if self.is_neg_inf() || other.is_neg_inf() {
            Score::NEG_INFINITY
        } else if self.is_pos_inf() || other.is_pos_inf() {
            Score::INFINITY
        } else {
            Score::new(self.0 + other.0)
        }
    }

    /// Parse a score the way configuration writes them: an integer, `INFINITY`, `+INFINITY`,
    /// `-INFINITY`, or the short forms `inf`, `+inf`, `-inf` (any case).
    pub fn parse(s: &str) -> Result<Score, ValueError> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "infinity" | "+infinity" | "inf" | "+inf" => return Ok(Score::INFINITY),
            "-infinity" | "-inf" => return Ok(Score::NEG_INFINITY),
            _ => {}
        }
        // Out-of-range integers saturate rather than fail: "99999999" means INFINITY.
        let (neg, digits) = match t.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::Score(s.to_string()));
        }
        let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
        Ok(Score::new(if neg { -magnitude.min(INFINITY) } else { magnitude.min(INFINITY) }))
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_pos_inf() {
            f.write_str("INFINITY")
        } else if self.is_neg_inf() {
            f.write_str("-INFINITY")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl std::str::FromStr for Score {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Score::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_infinity_forms() {
        for s in ["INFINITY", "+INFINITY", "inf", "+inf", "Infinity"] {
            assert_eq!(Score::parse(s).unwrap(), Score::INFINITY, "{s}");
        }
        for s in ["-INFINITY", "-inf", "-Infinity"] {
            assert_eq!(Score::parse(s).unwrap(), Score::NEG_INFINITY, "{s}");
        }
        assert_eq!(Score::parse("100").unwrap().value(), 100);
        assert_eq!(Score::parse("-2000").unwrap().value(), -2000);
        assert_eq!(Score::parse("+7").unwrap().value(), 7);
        assert_eq!(Score::parse("123456789012").unwrap(), Score::INFINITY);
        assert_eq!(Score::parse("-123456789012345678901234").unwrap(), Score::NEG_INFINITY);
        assert!(Score::parse("abc").is_err());
        assert!(Score::parse("").is_err());
        assert!(Score::parse("-").is_err());
    }

    #[test]
    fn infinity_arithmetic() {
        let inf = Score::INFINITY;
        let ninf = Score::NEG_INFINITY;
        assert_eq!(inf.add(ninf), ninf);
        assert_eq!(ninf.add(inf), ninf);
        assert_eq!(inf.add(Score::new(-5)), inf);
        assert_eq!(Score::new(999_999).add(Score::new(5)), inf);
        assert_eq!(Score::new(-999_999).add(Score::new(-5)), ninf);
        assert_eq!(Score::new(3).add(Score::new(4)).value(), 7);
        assert_eq!(inf.to_string(), "INFINITY");
        assert_eq!(ninf.to_string(), "-INFINITY");
    }
}
