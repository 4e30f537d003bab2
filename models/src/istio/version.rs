//! Which Istio release the control plane runs, and the translations that changed between releases.

use std::fmt;
use std::str::FromStr;

use crate::envoy::version::{ParseVersionError, parse_major_minor};

/// An Istio release, `1.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IstioVersion {
    minor: u32,
}

impl IstioVersion {
    /// The release scenarios use unless they name another.
    pub const DEFAULT: IstioVersion = IstioVersion { minor: 30 };

    /// Istio `1.minor`.
    pub const fn new(minor: u32) -> Self {
        IstioVersion { minor }
    }

    /// The default retry policy lists 503 as a retriable status up to 1.23; 1.24 dropped it
    /// (PR #52111), so upstream 503s are no longer retried by default.
    pub fn default_retries_retry_503(self) -> bool {
        self.minor <= 23
    }

    /// LEAST_REQUEST is the default load-balancing policy from 1.14 (ROUND_ROBIN before).
    pub fn least_request_is_default(self) -> bool {
        self.minor >= 14
    }
}

impl Default for IstioVersion {
    fn default() -> Self {
        IstioVersion::DEFAULT
    }
}

impl fmt::Display for IstioVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

impl FromStr for IstioVersion {
    type Err = ParseVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match parse_major_minor(text)? {
            (1, minor) => Ok(IstioVersion { minor }),
            _ => Err(ParseVersionError(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_503_retry_went_away_in_1_24() {
        assert!(IstioVersion::new(23).default_retries_retry_503());
        assert!(!IstioVersion::new(24).default_retries_retry_503());
        assert_eq!("1.22.6".parse::<IstioVersion>().unwrap(), IstioVersion::new(22));
        assert!(!IstioVersion::new(13).least_request_is_default());
    }
}
