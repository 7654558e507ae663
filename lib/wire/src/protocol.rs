//! Git protocol versions, as a client asks for them in `GIT_PROTOCOL`.

use serde::{Deserialize, Serialize};

/// The git wire protocol version a client requested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    #[default]
    V0,
    V1,
    V2,
}

impl Protocol {
    /// Parses the value of `GIT_PROTOCOL` (colon-separated `key=value`
    /// items, e.g. `version=2`). The highest `version=` we support wins;
    /// anything unknown means v0.
    pub fn from_git_protocol(value: &str) -> Protocol {
        let mut best = Protocol::V0;
        for item in value.split(':') {
            let v = match item.trim() {
                "version=2" => Protocol::V2,
                "version=1" => Protocol::V1,
                _ => continue,
            };
            if v as u8 > best as u8 {
                best = v;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_env() {
        assert_eq!(Protocol::from_git_protocol(""), Protocol::V0);
        assert_eq!(Protocol::from_git_protocol("version=2"), Protocol::V2);
        assert_eq!(
            Protocol::from_git_protocol("foo=bar:version=1"),
            Protocol::V1
        );
        assert_eq!(Protocol::from_git_protocol("version=3"), Protocol::V0);
    }
}
