//! Close frame payloads and close-code rules (RFC 6455 §5.5.1, §7.4).

use super::error::WsError;

/// Registered close codes (RFC 6455 §7.4.1 and the IANA registry).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (page navigation, server shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Data inconsistent with the message type (e.g. a text message that is not UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message violating the endpoint's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message too big to process.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// The server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The service is restarting.
    pub const SERVICE_RESTART: u16 = 1012;
    /// Try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// A gateway got an invalid response upstream.
    pub const BAD_GATEWAY: u16 = 1014;
}

/// True for the codes a Close frame may carry: 1000–1003, 1007–1014 and 3000–4999 (registered and
/// private-use). 1004–1006 and 1015 are reserved for reporting only; 0–999, 1016–2999 and ≥ 5000 are
/// not assigned. The same rule applies to codes we receive and to [`WsConn::close`](super::WsConn::close).
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Longest close reason: a control payload holds 125 bytes, 2 of them the code.
pub(crate) const MAX_REASON: usize = 123;

/// Parses a received Close payload into (code, reason).
pub(crate) fn parse_close(payload: &[u8]) -> Result<(Option<u16>, String), WsError> {
    match payload {
        [] => Ok((None, String::new())),
        [_] => Err(WsError::protocol("close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(WsError::protocol("close frame with an invalid close code"));
            }
            let reason =
                std::str::from_utf8(reason).map_err(|_| WsError::invalid_payload("close reason is not UTF-8"))?;
            Ok((Some(code), reason.to_owned()))
        }
    }
}

/// A Close payload: the code (if any) in network order, then the reason.
pub(crate) fn close_payload(code: Option<u16>, reason: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + reason.len());
    if let Some(code) = code {
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table() {
        for code in 0..=u16::MAX {
            let expected =
                (1000..=1003).contains(&code) || (1007..=1014).contains(&code) || (3000..=4999).contains(&code);
            assert_eq!(is_valid_close_code(code), expected, "{code}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!is_valid_close_code(bad));
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(parse_close(&[]).unwrap(), (None, String::new()));
        assert!(parse_close(&[3]).is_err());
        assert_eq!(parse_close(&close_payload(Some(1000), "bye")).unwrap(), (Some(1000), "bye".into()));
        assert_eq!(parse_close(&[0x03, 0xE8, 0xFF]).unwrap_err().close_code(), Some(1007));
        assert_eq!(parse_close(&[0x03, 0xEC]).unwrap_err().close_code(), Some(1002));
    }
}
