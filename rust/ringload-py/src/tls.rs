//! `TlsConfig`: a TLS client configuration made once from what Python describes (an
//! `ssl.SSLContext` from `ssl_context_factory`, requests' `verify=`/`cert=`) and passed with
//! each request instead of a bool. Every file is read and checked when it is made.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use ringload_engine::client::{ClientTls, CustomTls};
use ringload_engine::{build_client_config, ClientTlsSpec, ServerCheck, TrustedRoots};

use crate::convert::config_error;

#[pyclass(module = "ringload._ringload", frozen)]
pub(crate) struct TlsConfig {
    pub(crate) tls: Arc<CustomTls>,
    verify: bool,
    has_client_cert: bool,
}

#[pymethods]
impl TlsConfig {
    /// `verify`: check the server's certificate chain; `check_hostname`: and its name.
    /// `ca_certs` (DER) or `ca_path` (a PEM file or a directory of them) replace the system's
    /// roots. `cert_file`/`key_file`: the client certificate chain and its key (PEM; the key
    /// may be in `cert_file`). `minimum_version`/`maximum_version`: "TLSv1.2" or "TLSv1.3".
    ///
    /// Raises ValueError for a file that cannot be read, a key that is not the certificate's,
    /// or versions that leave nothing to negotiate.
    #[new]
    #[pyo3(signature = (*, verify=true, check_hostname=true, ca_certs=None, ca_path=None,
                        cert_file=None, key_file=None, minimum_version=None, maximum_version=None))]
    #[allow(clippy::too_many_arguments)] // keyword-only, each one of an SSLContext's settings
    fn new(
        verify: bool,
        check_hostname: bool,
        ca_certs: Option<Vec<Vec<u8>>>,
        ca_path: Option<PathBuf>,
        cert_file: Option<PathBuf>,
        key_file: Option<PathBuf>,
        minimum_version: Option<&str>,
        maximum_version: Option<&str>,
    ) -> PyResult<Self> {
        let rank = |version: Option<&str>, default: u8| match version {
            None => Ok(default),
            Some("TLSv1.2") => Ok(2),
            Some("TLSv1.3") => Ok(3),
            Some(other) => Err(PyValueError::new_err(format!(
                "TLS version {other:?} is not one ringload speaks: use \"TLSv1.2\" or \"TLSv1.3\""
            ))),
        };
        let (lowest, highest) = (rank(minimum_version, 2)?, rank(maximum_version, 3)?);
        let roots = match (ca_certs, ca_path) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "give the trusted CAs as ca_certs or as ca_path, not both",
                ))
            }
            (Some(ders), None) => TrustedRoots::Only(ders),
            (None, Some(path)) => TrustedRoots::OnlyPem(path),
            (None, None) => TrustedRoots::System,
        };
        let spec = ClientTlsSpec {
            check: match (verify, check_hostname) {
                (false, _) => ServerCheck::Nothing,
                (true, true) => ServerCheck::Full,
                (true, false) => ServerCheck::ChainOnly,
            },
            roots,
            client_cert: cert_file,
            client_key: key_file,
            tls12: lowest <= 2 && highest >= 2,
            tls13: highest >= 3,
        };
        let has_client_cert = spec.client_cert.is_some();
        let config = build_client_config(&spec).map_err(config_error)?;
        Ok(TlsConfig {
            tls: CustomTls::new(config),
            verify,
            has_client_cert,
        })
    }

    /// Whether the server's certificate is checked.
    #[getter]
    fn verify(&self) -> bool {
        self.verify
    }

    /// Whether a client certificate is presented to servers that ask for one.
    #[getter]
    fn has_client_cert(&self) -> bool {
        self.has_client_cert
    }

    fn __repr__(&self) -> String {
        format!(
            "<TlsConfig verify={} client_cert={}>",
            self.verify, self.has_client_cert
        )
    }
}

impl TlsConfig {
    pub(crate) fn client_tls(&self) -> ClientTls {
        ClientTls::Custom(self.tls.clone())
    }
}
