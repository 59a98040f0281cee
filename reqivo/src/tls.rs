//! rustls client configuration, shared by both drivers.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    pub system_roots: bool,
    pub extra_roots: Vec<Vec<u8>>,
    pub accept_invalid: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings { system_roots: true, extra_roots: Vec::new(), accept_invalid: false }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// System roots are read once per process: loading them costs milliseconds.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The session's TLS client configuration, built on first use: loading the system roots costs
/// milliseconds and hundreds of syscalls that a plain-HTTP session never needs.
#[derive(Debug)]
pub struct Tls {
    settings: TlsSettings,
    config: OnceLock<Arc<rustls::ClientConfig>>,
}

impl Tls {
    /// Checks the settings now (so a bad root certificate fails `build()`), builds the config later.
    pub(crate) fn new(settings: TlsSettings) -> Result<Tls> {
        let mut roots = RootCertStore::empty();
        for der in &settings.extra_roots {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| Error::invalid("invalid root certificate").with_source(e))?;
        }
        Ok(Tls { settings, config: OnceLock::new() })
    }

    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let built = Arc::new(self.settings.build()?);
        // Two first users may race; either result is the same configuration.
        Ok(self.config.get_or_init(|| built).clone())
    }
}

impl TlsSettings {
    fn build(&self) -> Result<rustls::ClientConfig> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
        let mut config = if self.accept_invalid {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny)).with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            if self.system_roots {
                // Unparsable system certificates are skipped, as browsers do.
                let _ = roots.add_parsable_certificates(system_roots().iter().cloned());
            }
            for der in &self.extra_roots {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| Error::invalid("invalid root certificate").with_source(e))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

pub(crate) fn parse_pem_certs(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()).map_err(|e| Error::invalid("invalid PEM certificate").with_source(e)))
        .collect()
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).map_err(|e| Error::invalid("invalid TLS server name").with_source(e))
}

#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

/// Maps a TLS handshake I/O error to a typed error (rustls reports certificate problems as `InvalidData`).
pub(crate) fn handshake_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            Error::timeout(crate::error::TimeoutPhase::Tls)
        }
        _ => Error::new(ErrorKind::Tls, "TLS handshake failed").with_source(e),
    }
}
