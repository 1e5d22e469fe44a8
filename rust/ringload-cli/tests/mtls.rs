//! mTLS (`--cert FILE --key FILE`) against nginx with `ssl_verify_client on`, certificates
//! made by `openssl` (both installed by `.ci/run`); and files that cannot work, refused
//! before any connection.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// A CA, a client certificate it signed (and its key), a server certificate for 127.0.0.1,
/// and a second key that goes with neither; and the certificate matrix (see [`MATRIX`]).
/// Made once per test process.
struct Pki {
    dir: PathBuf,
}

/// Client certificates as OpenSSL users make them, each signed by the CA, with the common name
/// nginx must report: `openssl x509 -req` without extensions (X.509 v1, as most mTLS tutorials
/// do) and with them (v3), for an RSA and an ECDSA key, each key in both files OpenSSL writes
/// (PKCS#8, and PKCS#1 for RSA or SEC1 for EC).
const MATRIX: [(&str, &str, &str); 8] = [
    ("rsa-v1.pem", "rsa-pkcs1.key", "rsa-v1"),
    ("rsa-v1.pem", "rsa-pkcs8.key", "rsa-v1"),
    ("rsa-v3.pem", "rsa-pkcs1.key", "rsa-v3"),
    ("rsa-v3.pem", "rsa-pkcs8.key", "rsa-v3"),
    ("ec-v1.pem", "ec-sec1.key", "ec-v1"),
    ("ec-v1.pem", "ec-pkcs8.key", "ec-v1"),
    ("ec-v3.pem", "ec-sec1.key", "ec-v3"),
    ("ec-v3.pem", "ec-pkcs8.key", "ec-v3"),
];

fn pki() -> Option<&'static Pki> {
    static PKI: OnceLock<Option<Pki>> = OnceLock::new();
    PKI.get_or_init(Pki::make).as_ref()
}

impl Pki {
    fn make() -> Option<Pki> {
        if Command::new("openssl").arg("version").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must have openssl (.ci/run installs it)"
            );
            eprintln!("skipped: no openssl here");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("ringload-mtls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let self_signed = |key: &str, cert: &str, subject: &str, exts: &[&str]| {
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", key, "-out", cert, "-subj", subject, "-days", "2"]);
            for ext in exts {
                args.extend(["-addext", ext]);
            }
            openssl(&args);
        };
        self_signed(
            "ca.key",
            "ca.pem",
            "/CN=ringload test CA",
            &["basicConstraints=critical,CA:TRUE"],
        );
        // A leaf, not a CA (rustls refuses a CA certificate as a server's).
        self_signed(
            "server.key",
            "server.pem",
            "/CN=localhost",
            &[
                "subjectAltName=IP:127.0.0.1",
                "basicConstraints=critical,CA:FALSE",
            ],
        );
        let mut request = vec!["req"];
        request.extend(ec);
        request.extend([
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=load-client",
        ]);
        openssl(&request);
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        // `extfile`: None for a v1 certificate (no extensions at all).
        let sign = |csr: &str, extfile: Option<&str>, out: &str| {
            let mut args = vec![
                "x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
            ];
            args.extend(["-CAcreateserial", "-out", out, "-days", "2"]);
            if let Some(extfile) = extfile {
                args.extend(["-extfile", extfile]);
            }
            openssl(&args);
        };
        sign("client.csr", Some("client.ext"), "client.pem");
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.key",
        ]);
        // requests' cert="both.pem": the certificate and its key in one file.
        let both = [
            std::fs::read_to_string(dir.join("client.pem")).unwrap(),
            std::fs::read_to_string(dir.join("client.key")).unwrap(),
        ]
        .concat();
        std::fs::write(dir.join("both.pem"), both).unwrap();
        // The matrix: genpkey writes PKCS#8; `-traditional` rewrites it as PKCS#1 or SEC1.
        for (algorithm, option, traditional) in [
            ("RSA", "rsa_keygen_bits:2048", "rsa-pkcs1.key"),
            ("EC", "ec_paramgen_curve:P-256", "ec-sec1.key"),
        ] {
            let name = algorithm.to_lowercase();
            let pkcs8 = format!("{name}-pkcs8.key");
            openssl(&[
                "genpkey",
                "-algorithm",
                algorithm,
                "-pkeyopt",
                option,
                "-out",
                &pkcs8,
            ]);
            openssl(&["pkey", "-in", &pkcs8, "-traditional", "-out", traditional]);
            let csr = format!("{name}.csr");
            for version in ["v1", "v3"] {
                let subject = format!("/CN={name}-{version}");
                openssl(&[
                    "req", "-new", "-key", &pkcs8, "-subj", &subject, "-out", &csr,
                ]);
                let extfile = (version == "v3").then_some("client.ext");
                sign(&csr, extfile, &format!("{name}-{version}.pem"));
            }
        }
        Some(Pki { dir })
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// `openssl x509 -text`'s "Version: 1 (0x0)" line, to show the matrix is what it says.
    fn version(&self, cert: &str) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in", &self.path(cert)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().find(|line| line.contains("Version:"));
        line.unwrap_or_default().trim().to_string()
    }
}

/// `/seen?cn=NAME`: 200 when nginx verified a client certificate whose subject is `CN=NAME`, else
/// 403 (`ssl_verify_client on` has answered 400 already when there was no valid one).
const SEEN: &str = "location = /seen {\n set $seen \"$ssl_client_verify $ssl_client_s_dn\";\n \
                    if ($seen != \"SUCCESS CN=$arg_cn\") { return 403; }\n return 200; }";

fn nginx_requiring_client_certificates(pki: &Pki) -> Option<Nginx> {
    let p = |name: &str| pki.path(name);
    let (cert, key, ca) = (p("server.pem"), p("server.key"), p("ca.pem"));
    let block = move |port: u16| {
        format!(
            "server {{\n listen 127.0.0.1:{port} ssl;\n ssl_certificate {cert};\n\
             ssl_certificate_key {key};\n ssl_client_certificate {ca};\n ssl_verify_client on;\n\
             location / {{ return 200 \"$ssl_client_s_dn\"; }}\n{SEEN}\n}}"
        )
    };
    Nginx::start_with(Some(&block))
}

#[test]
fn a_client_certificate_gets_past_ssl_verify_client() {
    let Some(pki) = pki() else { return };
    let Some(nginx) = nginx_requiring_client_certificates(pki) else {
        return;
    };
    let url = format!("https://127.0.0.1:{}/", nginx.tls_port);
    let (cert, key, ca) = (
        pki.path("client.pem"),
        pki.path("client.key"),
        pki.path("server.pem"),
    );
    // Without a certificate nginx answers 400 ("No required SSL certificate was sent").
    let without = ringload_json(&["-n", "10", "-c", "2", "--cacert", &ca, &url]);
    assert_eq!(without["status"]["400"], 10, "{without}");
    // With it, every request is let through; the server certificate is still verified.
    let with = ringload_json(&[
        "-n", "40", "-c", "4", "--cacert", &ca, "--cert", &cert, "--key", &key, &url,
    ]);
    assert_eq!(with["status"]["200"], 40, "{with}");
    assert!(with["tls_us"]["p50"].is_u64());
    // The certificate and key in one file, as requests' cert="both.pem".
    let both = ringload_json(&[
        "-n",
        "5",
        "-c",
        "1",
        "--insecure",
        "--cert",
        &pki.path("both.pem"),
        &url,
    ]);
    assert_eq!(both["status"]["200"], 5, "{both}");
}

#[test]
fn v1_and_v3_certificates_with_rsa_and_ecdsa_keys_in_every_key_file_format() {
    let Some(pki) = pki() else { return };
    let Some(nginx) = nginx_requiring_client_certificates(pki) else {
        return;
    };
    assert_eq!(pki.version("rsa-v1.pem"), "Version: 1 (0x0)");
    assert_eq!(pki.version("ec-v3.pem"), "Version: 3 (0x2)");
    let ca = pki.path("server.pem");
    for (cert, key, name) in MATRIX {
        let url = format!("https://127.0.0.1:{}/seen?cn={name}", nginx.tls_port);
        let (cert_path, key_path) = (pki.path(cert), pki.path(key));
        let run = ringload_json(&[
            "-n", "3", "-c", "1", "--cacert", &ca, "--cert", &cert_path, "--key", &key_path, &url,
        ]);
        assert_eq!(run["status"]["200"], 3, "{cert} with {key}: {run}");
    }
    // The check can fail: another name than the certificate's is refused.
    let (cert, key) = (pki.path("rsa-v1.pem"), pki.path("rsa-pkcs1.key"));
    let url = format!("https://127.0.0.1:{}/seen?cn=ec-v1", nginx.tls_port);
    let run = ringload_json(&[
        "-n", "1", "--cacert", &ca, "--cert", &cert, "--key", &key, &url,
    ]);
    assert_eq!(run["status"]["403"], 1, "{run}");
}

#[test]
fn client_certificate_files_that_cannot_work_exit_2_before_any_connection() {
    let Some(pki) = pki() else { return };
    let server = target();
    // A server over TLS that counts connections: none may be made for any of these.
    let (tls_server, _) = tls_target();
    let https = format!("https://{}/", tls_server.addr());
    let encrypted = pki.path("encrypted.key");
    let out = Command::new("openssl")
        .args([
            "pkey",
            "-aes256",
            "-passout",
            "pass:s3cret",
            "-out",
            &encrypted,
        ])
        .args(["-in", &pki.path("ec-sec1.key")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // A CERTIFICATE block whose DER is not a certificate.
    let not_der = pki.path("not-der.pem");
    std::fs::write(
        &not_der,
        "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let pair = |cert: &str, key: &str| -> Vec<String> {
        vec![
            "--cert".into(),
            pki.path(cert),
            "--key".into(),
            pki.path(key),
        ]
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--cert".into(), "/nonexistent/client.pem".into()],
            "cannot read the client certificate",
        ),
        (
            vec![
                "--cert".into(),
                pki.path("client.pem"),
                "--key".into(),
                pki.path("other.key"),
            ],
            "does not go with the certificate",
        ),
        (
            vec!["--cert".into(), pki.path("client.key")],
            "no PEM certificate",
        ),
        (
            vec!["--key".into(), pki.path("client.key")],
            "needs its certificate",
        ),
        (
            vec!["--cert".into(), pki.path("both.pem"), url(&server, "/")],
            "over TLS only",
        ),
        // Keys of other certificates, v1 ones included (found without webpki's parser).
        (
            pair("ec-v1.pem", "other.key"),
            "does not go with the certificate",
        ),
        (
            pair("rsa-v1.pem", "ec-sec1.key"),
            "does not go with the certificate",
        ),
        (
            pair("ec-v3.pem", "rsa-pkcs1.key"),
            "does not go with the certificate",
        ),
        (
            pair("rsa-v3.pem", "ec-pkcs8.key"),
            "does not go with the certificate",
        ),
        (
            vec!["--cert".into(), not_der],
            "not a DER X.509 certificate",
        ),
        (
            pair("ec-v1.pem", "encrypted.key"),
            "is encrypted with a passphrase, which ringload cannot use; decrypt it once (`openssl pkey",
        ),
    ];
    for (args, reason) in &cases {
        let mut all: Vec<&str> = vec!["-n", "1"];
        all.extend(args.iter().map(String::as_str));
        if !args.iter().any(|a| a.starts_with("http")) {
            all.push(&https);
        }
        let run = ringload(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{args:?}: {}", run.stderr);
    }
    assert_eq!(server.connections(), 0);
    assert_eq!(tls_server.connections(), 0);
}
