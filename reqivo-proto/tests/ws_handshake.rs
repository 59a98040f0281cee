//! The client opening handshake: the request headers and every check of the response.

mod ws_support;

use http::{HeaderMap, HeaderValue, StatusCode};
use reqivo_proto::ws::{ClientHandshake, HandshakeError, Negotiated, WsConfig, WsUsageError};
use ws_support::{base64, server_accept};

const KEY: [u8; 16] = *b"the sample nonce";

fn config(protocols: &[&str], compression: bool) -> WsConfig {
    WsConfig { subprotocols: protocols.iter().map(|p| p.to_string()).collect(), compression, ..WsConfig::default() }
}

fn handshake(protocols: &[&str], compression: bool) -> ClientHandshake {
    ClientHandshake::new(KEY, &config(protocols, compression)).unwrap()
}

/// A correct 101 answer, plus `extra` headers.
fn response(hs: &ClientHandshake, extra: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.append("upgrade", HeaderValue::from_static("websocket"));
    h.append("connection", HeaderValue::from_static("Upgrade"));
    h.append("sec-websocket-accept", HeaderValue::from_str(&server_accept(hs.key())).unwrap());
    for (name, value) in extra {
        h.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    h
}

fn verify(hs: &ClientHandshake, h: &HeaderMap) -> Result<Negotiated, HandshakeError> {
    hs.verify(StatusCode::SWITCHING_PROTOCOLS, h)
}

#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
fn deflate_with(extension: &str) -> Result<Negotiated, HandshakeError> {
    let hs = handshake(&[], true);
    verify(&hs, &response(&hs, &[("sec-websocket-extensions", extension)]))
}

#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
fn bad_param(extension: &str) {
    match deflate_with(extension) {
        Err(HandshakeError::InvalidDeflateParam { .. }) => {}
        other => panic!("{extension}: {other:?}"),
    }
}

#[test]
fn request_headers() {
    let hs = handshake(&["chat.v2", "chat"], true);
    let h = hs.headers();
    let get = |name: &str| h.get(name).map(|v| v.to_str().unwrap());
    assert_eq!(get("upgrade"), Some("websocket"));
    assert_eq!(get("connection"), Some("Upgrade"));
    assert_eq!(get("sec-websocket-key"), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(get("sec-websocket-key"), Some(base64(&KEY).as_str()));
    assert_eq!(get("sec-websocket-version"), Some("13"));
    assert_eq!(get("sec-websocket-protocol"), Some("chat.v2, chat"));
    if cfg!(feature = "deflate") {
        assert_eq!(get("sec-websocket-extensions"), Some("permessage-deflate; client_max_window_bits"));
        assert_eq!(h.len(), 6);
    } else {
        assert_eq!(h.len(), 5);
    }
    assert_eq!(hs.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    let plain = handshake(&[], false);
    assert_eq!(plain.headers().len(), 4);
    assert!(plain.headers().get("sec-websocket-protocol").is_none());
    assert!(plain.headers().get("sec-websocket-extensions").is_none());
}

#[test]
fn invalid_subprotocols_are_refused() {
    for bad in [&["a b"][..], &[""], &["x", "x"], &["a,b"], &["ü"]] {
        let err = ClientHandshake::new(KEY, &config(bad, false)).unwrap_err();
        assert!(matches!(err, WsUsageError::InvalidSubprotocol(_)), "{bad:?}");
    }
}

#[test]
fn a_correct_response() {
    let hs = handshake(&["chat"], false);
    assert_eq!(verify(&hs, &response(&hs, &[])), Ok(Negotiated::default()));
    let negotiated = verify(&hs, &response(&hs, &[("sec-websocket-protocol", "chat")])).unwrap();
    assert_eq!(negotiated.subprotocol.as_deref(), Some("chat"));
    // Case-insensitive Upgrade, Connection as a list, whitespace around the accept value.
    let mut h = HeaderMap::new();
    h.append("upgrade", HeaderValue::from_static("WebSocket"));
    h.append("connection", HeaderValue::from_static("keep-alive"));
    h.append("connection", HeaderValue::from_static("foo, UPGRADE"));
    h.append("sec-websocket-accept", HeaderValue::from_str(&format!(" {} ", server_accept(hs.key()))).unwrap());
    assert_eq!(verify(&hs, &h), Ok(Negotiated::default()));
}

#[test]
fn status_upgrade_connection_accept_failures() {
    let hs = handshake(&[], false);
    let good = response(&hs, &[]);
    assert_eq!(hs.verify(StatusCode::OK, &good), Err(HandshakeError::Status(StatusCode::OK)));
    assert_eq!(hs.verify(StatusCode::FORBIDDEN, &good), Err(HandshakeError::Status(StatusCode::FORBIDDEN)));

    let mut h = good.clone();
    h.remove("upgrade");
    assert_eq!(verify(&hs, &h), Err(HandshakeError::Upgrade));
    h.insert("upgrade", HeaderValue::from_static("h2c"));
    assert_eq!(verify(&hs, &h), Err(HandshakeError::Upgrade));
    h.insert("upgrade", HeaderValue::from_static("websocket, h2c"));
    assert_eq!(verify(&hs, &h), Err(HandshakeError::Upgrade));
    let mut h = good.clone();
    h.append("upgrade", HeaderValue::from_static("websocket"));
    assert_eq!(verify(&hs, &h), Err(HandshakeError::Upgrade), "repeated Upgrade");

    let mut h = good.clone();
    h.remove("connection");
    assert_eq!(verify(&hs, &h), Err(HandshakeError::Connection));
    h.insert("connection", HeaderValue::from_static("keep-alive, upgraded"));
    assert_eq!(verify(&hs, &h), Err(HandshakeError::Connection));

    let mut h = good.clone();
    h.remove("sec-websocket-accept");
    assert_eq!(verify(&hs, &h), Err(HandshakeError::AcceptMissing));
    h.insert("sec-websocket-accept", HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_eq!(verify(&hs, &h), Ok(Negotiated::default()), "the RFC example key gives the RFC example accept");
    h.insert("sec-websocket-accept", HeaderValue::from_static("S3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_eq!(verify(&hs, &h), Err(HandshakeError::AcceptMismatch), "base64 is case-sensitive");
    let other = ClientHandshake::new([1; 16], &config(&[], false)).unwrap();
    assert_eq!(verify(&other, &good), Err(HandshakeError::AcceptMismatch), "accept for another key");
    let mut h = good.clone();
    h.append("sec-websocket-accept", HeaderValue::from_str(&server_accept(hs.key())).unwrap());
    assert_eq!(verify(&hs, &h), Err(HandshakeError::AcceptMissing), "repeated accept");
}

#[test]
fn subprotocol_failures() {
    let hs = handshake(&["chat", "superchat"], false);
    let check = |extra: &[(&str, &str)]| verify(&hs, &response(&hs, extra));
    assert_eq!(
        check(&[("sec-websocket-protocol", "other")]),
        Err(HandshakeError::UnofferedSubprotocol("other".into()))
    );
    assert_eq!(check(&[("sec-websocket-protocol", "Chat")]), Err(HandshakeError::UnofferedSubprotocol("Chat".into())));
    assert_eq!(check(&[("sec-websocket-protocol", "chat, superchat")]), Err(HandshakeError::MultipleSubprotocols));
    assert_eq!(
        check(&[("sec-websocket-protocol", "chat"), ("sec-websocket-protocol", "superchat")]),
        Err(HandshakeError::MultipleSubprotocols)
    );
    assert_eq!(check(&[("sec-websocket-protocol", "superchat")]).unwrap().subprotocol.as_deref(), Some("superchat"));
    // None offered: any answer is wrong.
    let none = handshake(&[], false);
    assert_eq!(
        verify(&none, &response(&none, &[("sec-websocket-protocol", "chat")])),
        Err(HandshakeError::UnofferedSubprotocol("chat".into()))
    );
}

#[test]
#[cfg(feature = "deflate")]
fn extension_failures() {
    // Not offered at all.
    let hs = handshake(&[], false);
    assert_eq!(
        verify(&hs, &response(&hs, &[("sec-websocket-extensions", "permessage-deflate")])),
        Err(HandshakeError::UnofferedExtension("permessage-deflate".into()))
    );
    // Another extension.
    assert_eq!(
        deflate_with("x-webkit-deflate-frame"),
        Err(HandshakeError::UnofferedExtension("x-webkit-deflate-frame".into()))
    );
    assert_eq!(
        deflate_with("permessage-deflate, permessage-foo"),
        Err(HandshakeError::UnofferedExtension("permessage-foo".into()))
    );
    // Accepted twice (in one header or in two).
    assert!(matches!(
        deflate_with("permessage-deflate, permessage-deflate"),
        Err(HandshakeError::DuplicateExtension(_))
    ));
    let hs = handshake(&[], true);
    let h = response(
        &hs,
        &[("sec-websocket-extensions", "permessage-deflate"), ("sec-websocket-extensions", "permessage-deflate")],
    );
    assert!(matches!(verify(&hs, &h), Err(HandshakeError::DuplicateExtension(_))));
    // Syntax.
    for bad in ["permessage-deflate;", "permessage-deflate; =1", "permessage-deflate x", "permessage-deflate; a=\"1"] {
        assert_eq!(deflate_with(bad), Err(HandshakeError::MalformedExtensions), "{bad}");
    }
}

#[test]
#[cfg(feature = "deflate")]
fn deflate_parameters() {
    use reqivo_proto::ws::DeflateParams;
    let params = |ext: &str| deflate_with(ext).unwrap().deflate.unwrap();
    assert_eq!(params("permessage-deflate"), DeflateParams::default());
    assert_eq!(
        params(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        ),
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 9,
        }
    );
    assert_eq!(params("Permessage-Deflate;Client_Max_Window_Bits=\"8\"").client_max_window_bits, 8);
    assert_eq!(params("permessage-deflate; server_max_window_bits=15").server_max_window_bits, 15);
    // Unknown, repeated, valued flags, missing or bad window values.
    bad_param("permessage-deflate; foo");
    bad_param("permessage-deflate; server_no_context_takeover; server_no_context_takeover");
    bad_param("permessage-deflate; client_max_window_bits=10; client_max_window_bits=10");
    bad_param("permessage-deflate; server_no_context_takeover=1");
    bad_param("permessage-deflate; client_no_context_takeover=true");
    bad_param("permessage-deflate; client_max_window_bits");
    bad_param("permessage-deflate; server_max_window_bits");
    for bits in ["7", "16", "0", "08", "9a", "-9", "1e1", "99999999999999999999"] {
        bad_param(&format!("permessage-deflate; server_max_window_bits={bits}"));
        bad_param(&format!("permessage-deflate; client_max_window_bits={bits}"));
    }
}

#[test]
#[cfg(not(feature = "deflate"))]
fn without_the_feature_nothing_is_offered() {
    let hs = handshake(&[], true);
    assert!(hs.headers().get("sec-websocket-extensions").is_none());
    assert!(matches!(deflate_with("permessage-deflate"), Err(HandshakeError::UnofferedExtension(_))));
}
