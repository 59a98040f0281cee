//! A throwaway certificate for `localhost` (rcgen) and a rustls server configuration that uses it.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A self-signed certificate for `localhost` and the server configuration presenting it.
pub struct TestCert {
    /// The certificate, DER: what a client adds as a root to trust the server.
    pub der: Vec<u8>,
    pub server_config: Arc<rustls::ServerConfig>,
}

pub fn localhost_cert() -> TestCert {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen certificate");
    let der = certified.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(der.clone())], key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestCert { der, server_config: Arc::new(config) }
}
