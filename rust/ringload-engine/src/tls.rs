//! rustls client configuration: verified by default (webpki roots plus the system store),
//! optionally trusting an extra CA file, or not verifying at all with `--insecure`; with a
//! client certificate for servers that ask for one (mTLS).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::config::{ConfigError, TlsOptions};

/// Builds the client configuration shared (through `Arc`) by every connection of the run.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Invalid(format!("TLS setup failed: {e}")))?;
    let builder = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        builder.with_root_certificates(root_store(options)?)
    };
    let mut config = match &options.client_cert {
        None => builder.with_no_client_auth(),
        Some(cert_file) => {
            let key_file = options.client_key.as_ref().unwrap_or(cert_file);
            let (chain, key) = client_identity(cert_file, key_file)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => ConfigError::Invalid(format!(
                        "the client key {} does not go with the certificate {}; give the key \
                         of that certificate with --key",
                        key_file.display(),
                        cert_file.display()
                    )),
                    other => ConfigError::Invalid(format!(
                        "cannot use the client certificate {} with the key {}: {other}",
                        cert_file.display(),
                        key_file.display()
                    )),
                })?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn root_store(options: &TlsOptions) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // The system store is a few milliseconds to read; a missing or broken one is not fatal.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &options.ca_file {
        let unreadable = |e: &dyn std::fmt::Display| {
            ConfigError::Invalid(format!("cannot read CA file {}: {e}", path.display()))
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
            roots
                .add(cert.map_err(|e| unreadable(&e))?)
                .map_err(|e| unreadable(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(unreadable(&"no PEM certificate in it"));
        }
    }
    Ok(roots)
}

/// The client certificate chain and its private key, from PEM files.
fn client_identity(
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ConfigError> {
    let unreadable = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        ConfigError::Invalid(format!(
            "cannot read the client {what} {}: {e}",
            path.display()
        ))
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| unreadable("certificate", cert_file, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable("certificate", cert_file, &e))?;
    if chain.is_empty() {
        return Err(unreadable(
            "certificate",
            cert_file,
            &"no PEM certificate in it",
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_file).map_err(|e| unreadable("key", key_file, &e))?;
    Ok((chain, key))
}

/// The server name for SNI and certificate checks. IP literals become `ServerName::IpAddress`,
/// for which rustls sends no SNI, as RFC 6066 requires.
pub fn server_name(host: &str) -> Result<ServerName<'static>, ConfigError> {
    ServerName::try_from(host.to_string())
        .map_err(|_| ConfigError::Invalid(format!("{host:?} is not a valid TLS server name")))
}

/// `--insecure`: accept any certificate, still checking handshake signatures so the session
/// itself is sound.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
