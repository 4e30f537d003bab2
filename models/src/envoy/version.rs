//! Which Envoy release a proxy runs, and the behaviours that changed between releases.
//!
//! Each method names one behaviour change and the release that made it, so that a model written
//! against it reads as Envoy's own history does.

use std::fmt;
use std::str::FromStr;

/// An Envoy release, `1.minor` (patch releases do not change the modelled behaviours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvoyVersion {
    minor: u32,
}

impl EnvoyVersion {
    /// The release scenarios use unless they name another.
    pub const DEFAULT: EnvoyVersion = EnvoyVersion { minor: 40 };

    /// Envoy `1.minor`.
    pub const fn new(minor: u32) -> Self {
        EnvoyVersion { minor }
    }

    /// From 1.17 the ejection multiplier decays one step per quiet sweep; before, it was the total
    /// number of ejections and never fell.
    pub fn ejection_multiplier_decays(self) -> bool {
        self.minor >= 17
    }

    /// From 1.27 (PR #27624) the max-ejection-percent gate counts the host about to be ejected:
    /// `100·(ejected+1)/hosts ≤ max`; before it was `100·ejected/hosts < max`.
    pub fn gate_counts_host_being_ejected(self) -> bool {
        self.minor >= 27
    }

    /// Before 1.28 (PR #27909, guard `check_mep_on_first_eject`) the first ejection was always
    /// allowed whatever max_ejection_percent said.
    pub fn first_ejection_always_allowed(self) -> bool {
        self.minor < 28
    }

    /// From 1.30 (PR #32075) locality EDF schedulers start as if a random number of picks had
    /// been made; before, every rebuild started the schedule from the same point.
    pub fn edf_starts_at_random_pick(self) -> bool {
        self.minor >= 30
    }

    /// `always_eject_one_host` exists from 1.31.
    pub fn has_always_eject_one_host(self) -> bool {
        self.minor >= 31
    }
}

impl Default for EnvoyVersion {
    fn default() -> Self {
        EnvoyVersion::DEFAULT
    }
}

impl fmt::Display for EnvoyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

/// Why a version string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseVersionError(pub String);

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid version {:?}: write major.minor (optionally .patch), e.g. 1.28 or 1.30.3", self.0)
    }
}

impl std::error::Error for ParseVersionError {}

/// Reads `major.minor[.patch]`, returning `(major, minor)`.
pub(crate) fn parse_major_minor(text: &str) -> Result<(u32, u32), ParseVersionError> {
    let error = || ParseVersionError(text.to_owned());
    let mut parts = text.trim().trim_start_matches('v').split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(error)?;
    let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(error)?;
    match (parts.next(), parts.next()) {
        (None, None) => Ok((major, minor)),
        (Some(patch), None) if patch.parse::<u32>().is_ok() => Ok((major, minor)),
        _ => Err(error()),
    }
}

impl FromStr for EnvoyVersion {
    type Err = ParseVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match parse_major_minor(text)? {
            (1, minor) => Ok(EnvoyVersion { minor }),
            _ => Err(ParseVersionError(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!("1.28".parse::<EnvoyVersion>().unwrap(), EnvoyVersion::new(28));
        assert_eq!("v1.30.3".parse::<EnvoyVersion>().unwrap(), EnvoyVersion::new(30));
        assert!("2.0".parse::<EnvoyVersion>().is_err());
        assert!("1.x".parse::<EnvoyVersion>().is_err());
        assert!(EnvoyVersion::new(27) < EnvoyVersion::new(28));
        assert_eq!(EnvoyVersion::DEFAULT.to_string(), "1.40");
    }

    #[test]
    fn behaviour_changes_follow_the_release_history() {
        let v = EnvoyVersion::new;
        assert!(!v(26).gate_counts_host_being_ejected() && v(27).gate_counts_host_being_ejected());
        assert!(v(27).first_ejection_always_allowed() && !v(28).first_ejection_always_allowed());
        assert!(!v(29).edf_starts_at_random_pick() && v(30).edf_starts_at_random_pick());
        assert!(!v(16).ejection_multiplier_decays() && v(17).ejection_multiplier_decays());
    }
}
