//! Units as people write them in scenario files: durations (`250ms`, `1.5s`, `2m`) and
//! bandwidths (`100Mbps`, `1kbps`, `none`), read with errors that say what to write instead.

use serde::{Deserialize, Deserializer};
use sim::SimDuration;

/// A duration field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub SimDuration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(Duration).map_err(serde::de::Error::custom)
    }
}

/// A bandwidth field, in bits per second; `none` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bandwidth(pub u64);

impl Bandwidth {
    /// Reads `100Mbps`, `1.5Gbps`, `1kbps`, `500bps` or `none`.
    pub fn parse(text: &str) -> Result<Bandwidth, String> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("none") {
            return Ok(Bandwidth(0));
        }
        let error = || {
            format!(
                "invalid bandwidth {text:?}: write a number and a unit (bps, kbps, Mbps, Gbps) or none, e.g. 100Mbps"
            )
        };
        let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(error)?;
        let (number, unit) = trimmed.split_at(split);
        let value: f64 = number.parse().map_err(|_| error())?;
        let scale = match unit.trim() {
            "bps" => 1.0,
            "kbps" | "Kbps" => 1e3,
            "Mbps" => 1e6,
            "Gbps" => 1e9,
            _ => return Err(error()),
        };
        Ok(Bandwidth((value * scale).round() as u64))
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Bandwidth::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidths_read_as_written() {
        assert_eq!(Bandwidth::parse("100Mbps"), Ok(Bandwidth(100_000_000)));
        assert_eq!(Bandwidth::parse("1kbps"), Ok(Bandwidth(1_000)));
        assert_eq!(Bandwidth::parse("1.5Gbps"), Ok(Bandwidth(1_500_000_000)));
        assert_eq!(Bandwidth::parse("none"), Ok(Bandwidth(0)));
        assert!(Bandwidth::parse("100MB").unwrap_err().contains("e.g. 100Mbps"));
        assert!(Bandwidth::parse("fast").is_err());
    }

    #[test]
    fn durations_reject_with_the_hint() {
        let d: Duration = serde_saphyr::from_str("250ms").unwrap();
        assert_eq!(d, Duration(SimDuration::from_millis(250)));
        let err = serde_saphyr::from_str::<Duration>("250 msec").unwrap_err().to_string();
        assert!(err.contains("e.g. 250ms"), "{err}");
    }
}
