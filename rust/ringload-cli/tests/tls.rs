//! HTTPS against the built-in target with a generated self-signed certificate.

mod common;

use common::*;

#[test]
fn self_signed_certificate_fails_verification_with_a_readable_message() {
    let (server, _) = tls_target();
    let url = format!("https://localhost:{}/", server.addr().port());
    let run = ringload(&["--no-progress", "-n", "3", "-c", "1", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("tls: 3"), "{}", run.stdout);
    assert!(
        run.stdout.to_lowercase().contains("certificate"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("--insecure"),
        "hint expected: {}",
        run.stdout
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn https_to_a_plain_http_port_says_to_use_http() {
    let server = target();
    let url = format!("https://127.0.0.1:{}/", server.addr().port());
    let run = ringload(&["--no-progress", "-n", "3", "-c", "1", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("tls: 3 (the server at this port speaks plain HTTP: use http://)"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("InvalidContentType") && !run.stdout.contains("--cacert"),
        "no certificate advice for a plain-HTTP server: {}",
        run.stdout
    );
    // The `--json` report's example says it too.
    let report = ringload_json(&["-n", "1", &url]);
    assert_eq!(
        report["error_examples"]["tls"],
        "the server at this port speaks plain HTTP: use http://"
    );
}

#[test]
fn insecure_skips_verification() {
    let (server, _) = tls_target();
    let url = format!("https://127.0.0.1:{}/", server.addr().port());
    let report = ringload_json(&["--insecure", "-n", "500", "-c", "4", &url]);
    assert_eq!(count(&report, "ok"), 500);
    assert_eq!(server.requests(), 500);
    assert_eq!(server.connections(), 4, "TLS connections are kept alive");
}

#[test]
fn cacert_trusts_a_private_certificate_and_checks_the_name() {
    let (server, pem) = tls_target();
    let dir = std::env::temp_dir().join(format!("ringload-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let port = server.addr().port();
    let ca_arg = ca.to_str().unwrap();

    let report = ringload_json(&[
        "--cacert",
        ca_arg,
        "-n",
        "50",
        "-c",
        "2",
        &format!("https://localhost:{port}/"),
    ]);
    assert_eq!(count(&report, "ok"), 50);

    // A trusted certificate for another name is still rejected.
    let (other_identity, other_pem) = ringload_target::self_signed(&["other.test"]);
    let other = Server::start(ServerConfig {
        tls: Some(other_identity),
        ..ServerConfig::default()
    })
    .unwrap();
    let other_ca = dir.join("other.pem");
    std::fs::write(&other_ca, other_pem).unwrap();
    let wrong_name = ringload_json(&[
        "--cacert",
        other_ca.to_str().unwrap(),
        "-n",
        "2",
        "-c",
        "1",
        &format!("https://localhost:{}/", other.addr().port()),
    ]);
    assert_eq!(failed(&wrong_name, "tls"), 2, "{wrong_name}");
    assert!(
        wrong_name["error_examples"]["tls"]
            .as_str()
            .unwrap()
            .contains("name"),
        "{wrong_name}"
    );
    assert_eq!(other.requests(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

/// A TLS keep-alive server answering every request with 200, for the TLS hostile cases.
fn tls_keep_alive(identity: &ringload_target::TlsIdentity) -> HostileServer {
    HostileServer::start_tls(identity, |session| {
        session.play(&[
            Step::Read,
            Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Step::Repeat,
        ])
    })
    .unwrap()
}

fn write_ca(name: &str, pem: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ringload-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn an_expired_certificate_is_rejected_with_a_readable_message() {
    let (identity, pem) = ringload_target::self_signed_expired(&["127.0.0.1"]);
    let server = tls_keep_alive(&identity);
    let ca = write_ca("expired.pem", &pem);
    let url = format!("https://127.0.0.1:{}/", server.addr().port());
    let report = ringload_json(&["--cacert", &ca, "-n", "2", "-c", "1", &url]);
    assert_eq!(failed(&report, "tls"), 2, "{report}");
    let message = report["error_examples"]["tls"].as_str().unwrap();
    assert!(message.to_lowercase().contains("expired"), "{message}");
    assert_eq!(server.requests(), 0);
    // --insecure is the user's explicit choice to skip verification, expiry included.
    let insecure = ringload_json(&["--insecure", "-n", "2", "-c", "1", &url]);
    assert_eq!(count(&insecure, "ok"), 2);
}

#[test]
fn sni_is_sent_for_host_names_and_not_for_ip_addresses() {
    let (identity, _) = ringload_target::self_signed(&["localhost", "127.0.0.1"]);
    let server = tls_keep_alive(&identity);
    let port = server.addr().port();
    let by_name = ringload_json(&[
        "--insecure",
        "-n",
        "4",
        "-c",
        "2",
        &format!("https://localhost:{port}/"),
    ]);
    assert_eq!(count(&by_name, "ok"), 4);
    assert_eq!(server.sni(), vec![Some("localhost".to_string()); 2]);

    let by_address = ringload_json(&[
        "--insecure",
        "-n",
        "4",
        "-c",
        "2",
        &format!("https://127.0.0.1:{port}/"),
    ]);
    assert_eq!(count(&by_address, "ok"), 4);
    assert_eq!(server.sni()[2..], [None, None], "no SNI for an IP address");
}

#[test]
fn a_close_delimited_body_ended_without_close_notify_is_complete() {
    let (identity, _) = ringload_target::self_signed(&["127.0.0.1"]);
    for step in [Step::CloseWithoutNotify, Step::Close] {
        let server = HostileServer::start_tls(&identity, {
            let step = step.clone();
            move |session| {
                session.play(&[
                    Step::Read,
                    Step::send(b"HTTP/1.1 200 OK\r\n\r\nthe body ends at the close"),
                    step.clone(),
                ])
            }
        })
        .unwrap();
        let url = format!("https://127.0.0.1:{}/", server.addr().port());
        let report = ringload_json(&["--insecure", "-n", "3", "-c", "1", &url]);
        assert_eq!(count(&report, "ok"), 3, "{step:?}: {report}");
        assert_eq!(server.connections(), 3, "{step:?}: not reused");
    }
}
