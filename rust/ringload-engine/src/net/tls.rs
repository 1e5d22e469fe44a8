//! rustls client configuration: verified by default (webpki roots plus the system store),
//! optionally trusting an extra CA file, or not verifying at all with `--insecure`; with a
//! client certificate for servers that ask for one (mTLS).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider, KeyProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::error::{ConfigError, FileProblem, FileRole, TlsProblem};
use crate::net::x509;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Skip certificate verification.
    pub insecure: bool,
    /// Extra PEM file of trusted certificates (a private CA, a self-signed server).
    pub ca_file: Option<PathBuf>,
    /// mTLS: the client certificate chain (PEM) presented to servers that ask for one.
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM); `None` when it is in `client_cert`'s file too.
    pub client_key: Option<PathBuf>,
}

/// Builds the client configuration shared (through `Arc`) by every connection of the run.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, ConfigError> {
    let spec = ClientTlsSpec {
        check: if options.insecure {
            ServerCheck::Nothing
        } else {
            ServerCheck::Full
        },
        roots: match &options.ca_file {
            None => TrustedRoots::System,
            Some(path) => TrustedRoots::SystemAnd(path.clone()),
        },
        client_cert: options.client_cert.clone(),
        client_key: options.client_key.clone(),
        ..ClientTlsSpec::default()
    };
    build_client_config(&spec)
}

/// How a server's certificate is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerCheck {
    /// The chain up to a trusted root, and the name (an `SSLContext` with `check_hostname`).
    #[default]
    Full,
    /// The chain only, any name (`CERT_REQUIRED` without `check_hostname`).
    ChainOnly,
    /// Nothing but the handshake's own signatures (`CERT_NONE`, `--insecure`).
    Nothing,
}

/// The certificates a client trusts to sign a server's.
#[derive(Debug, Clone, Default)]
pub enum TrustedRoots {
    /// Mozilla's roots (webpki) and the system store.
    #[default]
    System,
    /// Those plus a PEM file's (`--cacert`).
    SystemAnd(PathBuf),
    /// Exactly these DER certificates (what an `SSLContext` has loaded); when there are none,
    /// the system store, as OpenSSL's lazily read default directory would give.
    Only(Vec<Vec<u8>>),
    /// Exactly a PEM file's, or every PEM file's in a directory (requests' `verify="ca.pem"`).
    OnlyPem(PathBuf),
}

/// Everything a TLS client is made of, for callers beyond the CLI's options: Python's
/// `ssl_context_factory` contexts and requests' `verify=`/`cert=`.
#[derive(Debug, Clone)]
pub struct ClientTlsSpec {
    pub check: ServerCheck,
    pub roots: TrustedRoots,
    /// mTLS: the client certificate chain (PEM), and its key when that is in another file.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Which protocol versions may be negotiated (rustls speaks 1.2 and 1.3).
    pub tls12: bool,
    pub tls13: bool,
}

impl Default for ClientTlsSpec {
    fn default() -> Self {
        ClientTlsSpec {
            check: ServerCheck::Full,
            roots: TrustedRoots::System,
            client_cert: None,
            client_key: None,
            tls12: true,
            tls13: true,
        }
    }
}

/// A client configuration from a spec; every file is read and checked here, before any
/// connection (an unreadable file, a key that is not the certificate's: `ConfigError`).
pub fn build_client_config(spec: &ClientTlsSpec) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_provider = provider.key_provider;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (spec.tls13, &rustls::version::TLS13),
        (spec.tls12, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter_map(|(on, version)| on.then_some(version))
    .collect();
    if versions.is_empty() {
        return Err(TlsProblem::NoVersion.into());
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsProblem::Setup(e.to_string()))?;
    let builder = match spec.check {
        ServerCheck::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
        ServerCheck::Full => builder.with_root_certificates(root_store(&spec.roots)?),
        ServerCheck::ChainOnly => {
            let verifier = WebPkiServerVerifier::builder_with_provider(
                Arc::new(root_store(&spec.roots)?),
                provider,
            )
            .build()
            .map_err(|e| TlsProblem::Setup(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
        }
    };
    let mut config = match &spec.client_cert {
        None => {
            if let Some(key_file) = &spec.client_key {
                return Err(TlsProblem::KeyWithoutCertificate {
                    key: key_file.clone(),
                }
                .into());
            }
            builder.with_no_client_auth()
        }
        Some(cert_file) => {
            let key_file = spec.client_key.as_ref().unwrap_or(cert_file);
            let identity = client_identity(cert_file, key_file, key_provider)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity)))
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn root_store(trusted: &TrustedRoots) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    let system = |roots: &mut RootCertStore| {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // The system store is a few milliseconds to read; a missing or broken one is not fatal.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    };
    match trusted {
        TrustedRoots::System => system(&mut roots),
        TrustedRoots::SystemAnd(path) => {
            system(&mut roots);
            add_pem_file(&mut roots, path)?;
        }
        TrustedRoots::Only(ders) if ders.is_empty() => system(&mut roots),
        TrustedRoots::Only(ders) => {
            for der in ders {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| TlsProblem::UnusableCa(e.to_string()))?;
            }
        }
        TrustedRoots::OnlyPem(path) if path.is_dir() => {
            let directory_error = |problem| ConfigError::File {
                role: FileRole::CaDirectory,
                path: path.clone(),
                problem,
            };
            let entries = std::fs::read_dir(path)
                .map_err(|e| directory_error(FileProblem::Unreadable(e.to_string())))?;
            for entry in entries.flatten() {
                // A CA directory also holds hash links and other files: take what parses.
                if let Ok(certs) = CertificateDer::pem_file_iter(entry.path()) {
                    for cert in certs.flatten() {
                        let _ = roots.add(cert);
                    }
                }
            }
            if roots.is_empty() {
                return Err(directory_error(FileProblem::NoPemCertificate));
            }
        }
        TrustedRoots::OnlyPem(path) => add_pem_file(&mut roots, path)?,
    }
    Ok(roots)
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), ConfigError> {
    let refused = |problem| ConfigError::File {
        role: FileRole::CaFile,
        path: path.to_path_buf(),
        problem,
    };
    let unreadable = |e: &dyn std::fmt::Display| refused(FileProblem::Unreadable(e.to_string()));
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
        roots
            .add(cert.map_err(|e| unreadable(&e))?)
            .map_err(|e| unreadable(&e))?;
        added += 1;
    }
    if added == 0 {
        return Err(refused(FileProblem::NoPemCertificate));
    }
    Ok(())
}

/// Why `key_file` gave no private key, telling the usual cause apart: a key encrypted with a
/// passphrase, which rustls cannot open (its message says what to do).
fn why_no_key(key_file: &Path, error: rustls::pki_types::pem::Error) -> FileProblem {
    let text = std::fs::read(key_file).unwrap_or_default();
    let encrypted = text.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED");
    match error {
        _ if encrypted => FileProblem::EncryptedKey,
        rustls::pki_types::pem::Error::NoItemsFound => FileProblem::NoPemKey,
        other => FileProblem::Unreadable(other.to_string()),
    }
}

/// The client certificate chain and its private key, from PEM files, checked to go together.
///
/// Not `with_client_auth_cert`: its check parses the certificate with webpki, which refuses
/// X.509 v1 certificates (and others OpenSSL servers take). The certificate is the server's to
/// judge; here only its public key is compared with the private key's.
fn client_identity(
    cert_file: &Path,
    key_file: &Path,
    key_provider: &dyn KeyProvider,
) -> Result<CertifiedKey, ConfigError> {
    let cert_error = |problem| ConfigError::File {
        role: FileRole::ClientCertificate,
        path: cert_file.to_path_buf(),
        problem,
    };
    let unreadable = |e: &dyn std::fmt::Display| cert_error(FileProblem::Unreadable(e.to_string()));
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    let Some(leaf) = chain.first() else {
        return Err(cert_error(FileProblem::NoPemCertificate));
    };
    let certified_spki = x509::subject_public_key_info(leaf).map_err(|e| unreadable(&e))?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| ConfigError::File {
        role: FileRole::ClientKey,
        path: key_file.to_path_buf(),
        problem: why_no_key(key_file, e),
    })?;
    let key = key_provider
        .load_private_key(key)
        .map_err(|e| TlsProblem::UnusableKey {
            certificate: cert_file.to_path_buf(),
            key: key_file.to_path_buf(),
            reason: e.to_string(),
        })?;
    // Every key ring loads knows its public key; one that did not would be left to the server.
    if key
        .public_key()
        .is_some_and(|spki| spki.as_ref() != certified_spki)
    {
        return Err(TlsProblem::KeyMismatch {
            certificate: cert_file.to_path_buf(),
            key: key_file.to_path_buf(),
        }
        .into());
    }
    Ok(CertifiedKey::new(chain, key))
}

/// The server name for SNI and certificate checks. IP literals become `ServerName::IpAddress`,
/// for which rustls sends no SNI, as RFC 6066 requires.
pub fn server_name(host: &str) -> Result<ServerName<'static>, ConfigError> {
    ServerName::try_from(host.to_string()).map_err(|_| {
        TlsProblem::ServerName {
            host: host.to_string(),
        }
        .into()
    })
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

/// `CERT_REQUIRED` without `check_hostname`: the chain must verify, the name may be any.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test's files.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ringload-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn refused(spec: ClientTlsSpec) -> ConfigError {
        build_client_config(&spec).unwrap_err()
    }

    #[test]
    fn unusable_files_are_named_with_their_role() {
        let ca = PathBuf::from("/nonexistent/ca.pem");
        let error = refused(ClientTlsSpec {
            roots: TrustedRoots::OnlyPem(ca.clone()),
            ..ClientTlsSpec::default()
        });
        assert!(
            matches!(
                &error,
                ConfigError::File { role: FileRole::CaFile, path, problem: FileProblem::Unreadable(_) }
                    if *path == ca
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("cannot read CA file /nonexistent/ca.pem: "),
            "{error}"
        );

        let dir = scratch("files");
        let error = refused(ClientTlsSpec {
            roots: TrustedRoots::OnlyPem(dir.clone()),
            ..ClientTlsSpec::default()
        });
        assert_eq!(
            error,
            ConfigError::File {
                role: FileRole::CaDirectory,
                path: dir.clone(),
                problem: FileProblem::NoPemCertificate,
            }
        );
        assert_eq!(
            error.to_string(),
            format!("no PEM certificate in the CA directory {}", dir.display())
        );

        let not_a_certificate = dir.join("client.pem");
        std::fs::write(&not_a_certificate, "hello\n").unwrap();
        let error = refused(ClientTlsSpec {
            client_cert: Some(not_a_certificate.clone()),
            ..ClientTlsSpec::default()
        });
        assert_eq!(
            error,
            ConfigError::File {
                role: FileRole::ClientCertificate,
                path: not_a_certificate.clone(),
                problem: FileProblem::NoPemCertificate,
            }
        );
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read the client certificate {}: no PEM certificate in it",
                not_a_certificate.display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tls_setup_problems_carry_their_fields() {
        let key = PathBuf::from("/x/client.key");
        let error = refused(ClientTlsSpec {
            client_key: Some(key.clone()),
            ..ClientTlsSpec::default()
        });
        assert_eq!(
            error,
            ConfigError::Tls(TlsProblem::KeyWithoutCertificate { key })
        );
        assert_eq!(
            error.to_string(),
            "the client key /x/client.key needs its certificate too"
        );
        let error = refused(ClientTlsSpec {
            tls12: false,
            tls13: false,
            ..ClientTlsSpec::default()
        });
        assert_eq!(error, ConfigError::Tls(TlsProblem::NoVersion));
        let error = server_name("").unwrap_err();
        assert_eq!(
            error,
            ConfigError::Tls(TlsProblem::ServerName { host: "".into() })
        );
        assert_eq!(error.to_string(), "\"\" is not a valid TLS server name");
    }
}
