//! mTLS (`--cert FILE --key FILE`) against nginx with `ssl_verify_client on`, certificates
//! made by `openssl` (both installed by `.ci/run`); and files that cannot work, refused
//! before any connection.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// A CA, a client certificate it signed (and its key), a server certificate for 127.0.0.1,
/// and a second key that goes with neither.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn make(test: &str) -> Option<Pki> {
        if Command::new("openssl").arg("version").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must have openssl (.ci/run installs it)"
            );
            eprintln!("skipped: no openssl here");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("ringload-mtls-{}-{test}", std::process::id()));
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
        // A version 3 certificate for client authentication (a v1 one, without extensions,
        // is refused by rustls and most servers).
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-extfile",
            "client.ext",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.pem",
            "-days",
            "2",
        ]);
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
        Some(Pki { dir })
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn nginx_requiring_client_certificates(pki: &Pki) -> Option<Nginx> {
    let p = |name: &str| pki.path(name);
    let (cert, key, ca) = (p("server.pem"), p("server.key"), p("ca.pem"));
    let block = move |port: u16| {
        format!(
            "server {{\n listen 127.0.0.1:{port} ssl;\n ssl_certificate {cert};\n\
             ssl_certificate_key {key};\n ssl_client_certificate {ca};\n ssl_verify_client on;\n\
             location / {{ return 200 \"$ssl_client_s_dn\"; }}\n}}"
        )
    };
    Nginx::start_with(Some(&block))
}

#[test]
fn a_client_certificate_gets_past_ssl_verify_client() {
    let Some(pki) = Pki::make("nginx") else {
        return;
    };
    let Some(nginx) = nginx_requiring_client_certificates(&pki) else {
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
fn client_certificate_files_that_cannot_work_exit_2_before_any_connection() {
    let Some(pki) = Pki::make("bad") else { return };
    let server = target();
    let https = "https://127.0.0.1:1/";
    let cases: [(Vec<String>, &str); 5] = [
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
    ];
    for (args, reason) in &cases {
        let mut all: Vec<&str> = vec!["-n", "1"];
        all.extend(args.iter().map(String::as_str));
        if !args.iter().any(|a| a.starts_with("http")) {
            all.push(https);
        }
        let run = ringload(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{args:?}: {}", run.stderr);
    }
    assert_eq!(server.connections(), 0);
}
