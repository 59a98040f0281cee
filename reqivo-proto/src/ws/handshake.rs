//! The client side of the opening handshake (RFC 6455 §4.1) and permessage-deflate negotiation
//! (RFC 7692 §7.1).

use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::error::{HandshakeError, WsUsageError};
use super::{DeflateParams, Negotiated, WsConfig};

/// RFC 6455 §1.3: appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The extension we offer, with the parameter that says we can limit our window.
const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";
/// The same offer, promising that we compress every message on its own (RFC 7692 §7.1.1.2).
const DEFLATE_OFFER_NO_TAKEOVER: &str = "permessage-deflate; client_max_window_bits; client_no_context_takeover";

/// The handshake of one connection attempt: the request headers, and the check of the response.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    accept: String,
    subprotocols: Vec<String>,
    offered_deflate: bool,
    /// We offered `client_no_context_takeover`.
    no_takeover: bool,
    headers: HeaderMap,
}

impl ClientHandshake {
    /// Prepares a handshake. `key` must be 16 fresh random bytes from the caller's RNG (the core has
    /// none). Fails when a subprotocol in `config` is empty, not a token, or repeated.
    pub fn new(key: [u8; 16], config: &WsConfig) -> Result<Self, WsUsageError> {
        for (i, proto) in config.subprotocols.iter().enumerate() {
            if proto.is_empty() || !proto.bytes().all(is_tchar) || config.subprotocols[..i].contains(proto) {
                return Err(WsUsageError::InvalidSubprotocol(proto.clone()));
            }
        }
        let key = base64(&key);
        let accept = accept_for(&key);
        let offered_deflate = cfg!(feature = "deflate") && config.compression;
        let mut headers = HeaderMap::new();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(http::header::SEC_WEBSOCKET_KEY, header_value(&key));
        headers.insert(http::header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        if !config.subprotocols.is_empty() {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, header_value(&config.subprotocols.join(", ")));
        }
        if offered_deflate {
            let offer = if config.no_context_takeover { DEFLATE_OFFER_NO_TAKEOVER } else { DEFLATE_OFFER };
            headers.insert(SEC_WEBSOCKET_EXTENSIONS, HeaderValue::from_static(offer));
        }
        let no_takeover = config.no_context_takeover;
        Ok(ClientHandshake {
            key,
            accept,
            subprotocols: config.subprotocols.clone(),
            offered_deflate,
            no_takeover,
            headers,
        })
    }

    /// The headers to add to the `GET` request: `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version`, and `Sec-WebSocket-Protocol` / `Sec-WebSocket-Extensions` when offered.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Sec-WebSocket-Key` value (base64 of the 16 key bytes).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> &str {
        &self.accept
    }

    /// Checks the server's response against every rule of RFC 6455 §4.1 (client side) and RFC 7692 §7.1.
    pub fn verify(&self, status: StatusCode, headers: &HeaderMap) -> Result<Negotiated, HandshakeError> {
        if status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(HandshakeError::Status(status));
        }
        let upgrade = single(headers, UPGRADE).ok_or(HandshakeError::Upgrade)?;
        if !upgrade.trim_ascii().eq_ignore_ascii_case(b"websocket") {
            return Err(HandshakeError::Upgrade);
        }
        let has_upgrade_token = headers
            .get_all(CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
        if !has_upgrade_token {
            return Err(HandshakeError::Connection);
        }
        let accept = single(headers, SEC_WEBSOCKET_ACCEPT).ok_or(HandshakeError::AcceptMissing)?;
        if accept.trim_ascii() != self.accept.as_bytes() {
            return Err(HandshakeError::AcceptMismatch);
        }
        let subprotocol = self.check_subprotocol(headers)?;
        let deflate = self.check_extensions(headers)?;
        Ok(Negotiated { subprotocol, deflate })
    }

    fn check_subprotocol(&self, headers: &HeaderMap) -> Result<Option<String>, HandshakeError> {
        let mut values = headers.get_all(SEC_WEBSOCKET_PROTOCOL).iter();
        let Some(value) = values.next() else { return Ok(None) };
        if values.next().is_some() || value.as_bytes().contains(&b',') {
            return Err(HandshakeError::MultipleSubprotocols);
        }
        let chosen = String::from_utf8_lossy(value.as_bytes().trim_ascii()).into_owned();
        if self.subprotocols.contains(&chosen) {
            Ok(Some(chosen))
        } else {
            Err(HandshakeError::UnofferedSubprotocol(chosen))
        }
    }

    fn check_extensions(&self, headers: &HeaderMap) -> Result<Option<DeflateParams>, HandshakeError> {
        let mut deflate = None;
        for value in headers.get_all(SEC_WEBSOCKET_EXTENSIONS) {
            for ext in parse_extensions(value.as_bytes()).ok_or(HandshakeError::MalformedExtensions)? {
                if !self.offered_deflate || !ext.name.eq_ignore_ascii_case("permessage-deflate") {
                    return Err(HandshakeError::UnofferedExtension(ext.name));
                }
                if deflate.is_some() {
                    return Err(HandshakeError::DuplicateExtension(ext.name));
                }
                let mut params = deflate_params(&ext.params)?;
                // Our offer's hint is a promise, whatever the server's answer says.
                params.client_no_context_takeover |= self.no_takeover;
                deflate = Some(params);
            }
        }
        Ok(deflate)
    }
}

/// Turns the parameters of an accepted permessage-deflate into [`DeflateParams`] (RFC 7692 §7.1).
fn deflate_params(params: &[(String, Option<String>)]) -> Result<DeflateParams, HandshakeError> {
    let mut out = DeflateParams::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let bad = |problem| HandshakeError::InvalidDeflateParam { param: name.clone(), problem };
        let slot = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            // We offer client_max_window_bits, so the server may set it (§7.1.2.2).
            "client_max_window_bits" => 3,
            _ => return Err(bad("unknown parameter")),
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(bad("parameter repeated"));
        }
        let takes_value = slot >= 2;
        let bits = match (takes_value, value) {
            (false, None) => 0,
            (false, Some(_)) => return Err(bad("parameter takes no value")),
            (true, None) => return Err(bad("parameter needs a value in a response")),
            (true, Some(v)) => window_bits(v).ok_or_else(|| bad("value is not an integer 8..=15"))?,
        };
        match slot {
            0 => out.server_no_context_takeover = true,
            1 => out.client_no_context_takeover = true,
            2 => out.server_max_window_bits = bits,
            _ => out.client_max_window_bits = bits,
        }
    }
    Ok(out)
}

/// A window-bits value: decimal 8..=15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u8>().ok().filter(|bits| (8..=15).contains(bits))
}

/// One extension of a `Sec-WebSocket-Extensions` value.
struct Extension {
    name: String,
    params: Vec<(String, Option<String>)>,
}

/// Parses `1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) )` with optional whitespace; empty
/// list elements are skipped. `None` when the value does not parse.
fn parse_extensions(value: &[u8]) -> Option<Vec<Extension>> {
    let mut p = Parser { s: value, i: 0 };
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        if p.eat(b',') {
            continue;
        }
        if p.done() {
            return Some(out);
        }
        let name = p.token()?;
        let mut params = Vec::new();
        loop {
            p.skip_ws();
            if p.done() || p.eat(b',') {
                break;
            }
            if !p.eat(b';') {
                return None;
            }
            p.skip_ws();
            let pname = p.token()?;
            p.skip_ws();
            let pvalue = if p.eat(b'=') {
                p.skip_ws();
                Some(if p.peek() == Some(b'"') { p.quoted()? } else { p.token()? })
            } else {
                None
            };
            params.push((pname, pvalue));
        }
        out.push(Extension { name, params });
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    /// A quoted-string; RFC 6455 §9.1 requires its content to be a token after unescaping.
    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // the opening quote
        let mut content = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    content.push(*self.s.get(self.i + 1)?);
                    self.i += 2;
                }
                b => {
                    content.push(b);
                    self.i += 1;
                }
            }
        }
        (!content.is_empty() && content.iter().copied().all(is_tchar))
            .then(|| String::from_utf8_lossy(&content).into_owned())
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The value of the only field named `name`; `None` when absent or repeated.
fn single(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&[u8]> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then(|| first.as_bytes())
}

fn header_value(s: &str) -> HeaderValue {
    // Only base64 and tokens (checked above) come here, all visible ASCII.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` value: base64(SHA-1(key + GUID)).
fn accept_for(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64(&sha.digest().bytes())
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (input, expected) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn rfc6455_accept_example() {
        // RFC 6455 §1.3.
        assert_eq!(accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn extension_parser() {
        let exts =
            parse_extensions(b" permessage-deflate ; client_max_window_bits=\"10\";server_no_context_takeover, x")
                .unwrap();
        assert_eq!(exts.len(), 2);
        assert_eq!(exts[0].params[0], ("client_max_window_bits".into(), Some("10".into())));
        assert_eq!(exts[0].params[1], ("server_no_context_takeover".into(), None));
        assert_eq!(exts[1].name, "x");
        assert!(parse_extensions(b"a; =1").is_none());
        assert!(parse_extensions(b"a; b=\"1").is_none());
        assert!(parse_extensions(b"a b").is_none());
        assert!(parse_extensions(b"a; b=\"x y\"").is_none());
        assert_eq!(parse_extensions(b",,").unwrap().len(), 0);
    }

    #[test]
    fn window_bits_values() {
        assert_eq!(window_bits("8"), Some(8));
        assert_eq!(window_bits("15"), Some(15));
        for bad in ["7", "16", "08", "", "+9", "9a", "255", "1000000000000"] {
            assert_eq!(window_bits(bad), None, "{bad}");
        }
    }
}
