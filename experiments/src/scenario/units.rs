//! Units as people write them in scenario files: durations (`250ms`, `1.5s`, `2m`) and
//! bandwidths (`100Mbps`, `1kbps`, `none`), read with errors that say what to write instead.

use serde::{Deserialize, Deserializer};
use sim::SimDuration;

/// A duration field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub SimDuration);

/// The longest duration any field may hold: a year. Longer ones are typos, and would overflow
/// simulated time once added to the clock.
pub const MAX_DURATION_FIELD: SimDuration = SimDuration::from_secs(365 * 24 * 3600);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim_start().starts_with('-') {
            return Err(serde::de::Error::custom(format!("{text:?}: durations cannot be negative; e.g. 250ms")));
        }
        let duration: SimDuration = text.parse().map_err(serde::de::Error::custom)?;
        if duration > MAX_DURATION_FIELD {
            return Err(serde::de::Error::custom(format!(
                "{text:?} is over a year (8760h), the longest duration meshsim takes"
            )));
        }
        Ok(Duration(duration))
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

/// Reads a CIDR block as people write it, with errors that say what is wrong: a prefix longer
/// than the address, or host bits set (`10.0.0.1/16`, which routes as `10.0.0.0/16`).
pub fn parse_cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let (address, prefix) = text.trim().split_once('/').ok_or_else(|| {
        format!("{text:?} is not a CIDR block: write an address and a prefix length, e.g. 10.0.0.0/16")
    })?;
    let address: std::net::IpAddr =
        address.parse().map_err(|_| format!("{text:?}: {address:?} is not an IPv4 or IPv6 address"))?;
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|&p| p <= bits)
        .ok_or_else(|| format!("{text:?}: the prefix length must be a number from 0 to {bits}"))?;
    let net = ipnet::IpNet::new(address, prefix).map_err(|e| format!("{text:?}: {e}"))?;
    if net.addr() != net.network() {
        return Err(format!("{text:?} has host bits set; the block is {}", net.trunc()));
    }
    Ok(net)
}

/// `deserialize_with` for a CIDR field.
pub fn cidr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ipnet::IpNet, D::Error> {
    parse_cidr(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// `deserialize_with` for an optional CIDR field.
pub fn optional_cidr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ipnet::IpNet>, D::Error> {
    cidr(deserializer).map(Some)
}

/// `deserialize_with` for a list of CIDR blocks.
pub fn cidrs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?.iter().map(|t| parse_cidr(t).map_err(serde::de::Error::custom)).collect()
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
    fn cidr_blocks_say_what_is_wrong() {
        assert_eq!(parse_cidr("10.0.0.0/16").unwrap().to_string(), "10.0.0.0/16");
        assert!(parse_cidr("10.0.0.1/16").unwrap_err().contains("host bits set; the block is 10.0.0.0/16"));
        assert!(parse_cidr("10.0.0.0/33").unwrap_err().contains("from 0 to 32"));
        assert!(parse_cidr("10.0.0/8").unwrap_err().contains("not an IPv4 or IPv6 address"));
        assert!(parse_cidr("10.0.0.0").unwrap_err().contains("e.g. 10.0.0.0/16"));
    }

    #[test]
    fn durations_out_of_range_are_refused() {
        let err = serde_saphyr::from_str::<Duration>("-1s").unwrap_err().to_string();
        assert!(err.contains("cannot be negative"), "{err}");
        let err = serde_saphyr::from_str::<Duration>("100000h").unwrap_err().to_string();
        assert!(err.contains("over a year"), "{err}");
    }

    #[test]
    fn durations_reject_with_the_hint() {
        let d: Duration = serde_saphyr::from_str("250ms").unwrap();
        assert_eq!(d, Duration(SimDuration::from_millis(250)));
        let err = serde_saphyr::from_str::<Duration>("250 msec").unwrap_err().to_string();
        assert!(err.contains("e.g. 250ms"), "{err}");
    }
}
