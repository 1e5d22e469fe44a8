//! TLS identity handling: self-signed certificates and the rustls server config.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain and its private key, for serving HTTPS.
pub struct TlsIdentity {
    /// The server certificate first, then any intermediates.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The private key of the first certificate in `cert_chain`.
    pub key: PrivateKeyDer<'static>,
}

// `PrivateKeyDer` is deliberately not `Clone`; copying it is explicit.
impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        TlsIdentity {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

// Never print key material.
impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_chain_len", &self.cert_chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Creates a self-signed certificate valid for the given DNS names and IP
/// literals (for example `["localhost", "127.0.0.1"]`).
///
/// Returns the identity to put in [`ServerConfig::tls`](crate::ServerConfig)
/// and the certificate as PEM, which a client can trust as its CA file.
///
/// # Panics
///
/// If a name cannot be put in a certificate (a DNS name that is not ASCII)
/// or key generation fails. The names come from the caller, not from the
/// network.
pub fn self_signed(names: &[&str]) -> (TlsIdentity, String) {
    certificate(names, |_| {})
}

/// Like [`self_signed`], but the certificate expired long ago (valid in the year 2000 only), for
/// testing that clients reject it.
pub fn self_signed_expired(names: &[&str]) -> (TlsIdentity, String) {
    certificate(names, |params| {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2000, 12, 31);
    })
}

fn certificate(
    names: &[&str],
    adjust: impl FnOnce(&mut rcgen::CertificateParams),
) -> (TlsIdentity, String) {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names)
        .unwrap_or_else(|err| panic!("cannot describe certificate: {err}"));
    adjust(&mut params);
    let key_pair =
        rcgen::KeyPair::generate().unwrap_or_else(|err| panic!("cannot create key: {err}"));
    let cert = params
        .self_signed(&key_pair)
        .unwrap_or_else(|err| panic!("cannot create certificate: {err}"));
    let identity = TlsIdentity {
        cert_chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()).into(),
    };
    (identity, cert.pem())
}

/// Builds the rustls server config for `identity`, advertising ALPN `http/1.1` (and first `h2`
/// when `http2`).
pub(crate) fn server_config(
    identity: &TlsIdentity,
    http2: bool,
) -> io::Result<Arc<rustls::ServerConfig>> {
    // rustls is built without a default provider, so name one explicitly.
    let provider = Arc::new(ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_no_client_auth()
        .with_single_cert(identity.cert_chain.clone(), identity.key.clone_key())
        .map_err(invalid)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if http2 {
        config.alpn_protocols.insert(0, b"h2".to_vec());
    }
    Ok(Arc::new(config))
}

fn invalid(err: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, err)
}
