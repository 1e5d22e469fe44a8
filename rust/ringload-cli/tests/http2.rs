//! `--http2` as a user runs it: against the built-in target (h2c and h2 by ALPN, which falls
//! back to HTTP/1.1 with a warning where the server declines), against nginx (`listen ...
//! http2`, h2c and over TLS), the open model with streams, templates and scenarios, and the
//! option combinations HTTP/2 refuses.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn h2_target() -> Server {
    Server::start(ServerConfig {
        http2: true,
        ..ServerConfig::default()
    })
    .expect("start target")
}

fn h2_tls_target(http2: bool) -> Server {
    let (identity, _pem) = ringload_target::self_signed(&["localhost", "127.0.0.1"]);
    Server::start(ServerConfig {
        tls: Some(identity),
        http2,
        ..ServerConfig::default()
    })
    .expect("start target")
}

fn h2_report(args: &[&str]) -> Value {
    let report = ringload_json(args);
    assert_valid_report(&report);
    report
}

#[test]
fn h2c_multiplexes_streams_and_counts_every_request_once() {
    let server = h2_target();
    let report = h2_report(&[
        "--http2",
        "--streams",
        "10",
        "-c",
        "4",
        "-n",
        "3000",
        &url(&server, "/"),
    ]);
    assert_eq!(report["protocol"], "h2", "{report}");
    assert_eq!(report["streams"], 10);
    assert_eq!(count(&report, "ok"), 3000, "{report}");
    assert_eq!(count(&report, "connects"), 4, "{report}");
    assert_eq!(server.requests(), 3000, "server-side requests");
    assert_eq!(server.connections(), 4, "server-side connections");
    assert_eq!(report["status"]["200"], 3000);
    // "hello from ringload\n" per response.
    assert_eq!(count(&report, "body_bytes"), 3000 * 20);
}

#[test]
fn h2_over_tls_is_negotiated_by_alpn() {
    let server = h2_tls_target(true);
    let url = format!("https://{}/bytes/100000", server.addr());
    let report = h2_report(&[
        "--http2",
        "--streams",
        "4",
        "-c",
        "2",
        "-n",
        "200",
        "--insecure",
        &url,
    ]);
    assert_eq!(report["protocol"], "h2", "{report}");
    assert_eq!(count(&report, "ok"), 200, "{report}");
    assert_eq!(count(&report, "body_bytes"), 200 * 100_000);
    assert!(report["tls_us"]["p50"].as_u64().unwrap() > 0, "{report}");
    // The run's own two connections, and the one handshake that settled the protocol.
    assert_eq!(server.connections(), 3);
}

#[test]
fn a_server_that_declines_h2_by_alpn_gets_an_http1_run_with_a_warning() {
    let server = h2_tls_target(false);
    let url = format!("https://{}/", server.addr());
    let run = ringload(&[
        "--json",
        "--no-progress",
        "--http2",
        "-c",
        "2",
        "-n",
        "100",
        "--insecure",
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    assert_eq!(report["protocol"], "http/1.1", "{report}");
    assert!(report.get("streams").is_none());
    assert_eq!(count(&report, "ok"), 100);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("did not agree to HTTP/2"), "{warnings}");
    assert!(
        run.stderr.contains("this run uses HTTP/1.1"),
        "{}",
        run.stderr
    );
}

#[test]
fn h2c_against_an_http1_only_server_fails_with_a_hint() {
    let server = target();
    let report = ringload_json(&["--http2", "-c", "1", "-n", "5", &url(&server, "/")]);
    assert_eq!(failed(&report, "protocol"), 5, "{report}");
    let example = report["error_examples"]["protocol"].as_str().unwrap();
    assert!(
        example.contains("does not speak HTTP/2 without TLS (h2c)") && example.contains("https://"),
        "{example}"
    );
}

#[test]
fn the_open_model_paces_streams_and_reports_their_lag() {
    let server = h2_target();
    let report = h2_report(&[
        "--http2",
        "--streams",
        "4",
        "-c",
        "2",
        "-R",
        "1000",
        "-d",
        "1s",
        &url(&server, "/"),
    ]);
    assert_eq!(report["model"], "open");
    let requests = count(&report, "requests");
    assert!((990..=1010).contains(&requests), "{report}");
    assert_eq!(count(&report, "ok") + count(&report, "aborted"), requests);
    let lag = &report["schedule_lag"];
    assert!(lag["p50_us"].as_u64().unwrap() < 2_000, "{report}");
    assert_eq!(server.connections(), 2);
}

#[test]
fn templated_posts_and_scenarios_go_over_h2() {
    let server = h2_target();
    let report = h2_report(&[
        "--http2",
        "--streams",
        "2",
        "-c",
        "1",
        "-n",
        "20",
        "--template",
        "-m",
        "POST",
        "-b",
        "item {{seq}}",
        &url(&server, "/echo?id={{seq}}"),
    ]);
    assert_eq!(count(&report, "ok"), 20, "{report}");
    // "item 0" .. "item 19": 6 bytes for ten of them, 7 for the others.
    assert_eq!(count(&report, "body_bytes"), 10 * 6 + 10 * 7, "{report}");

    let dir = std::env::temp_dir().join(format!("ringload-h2-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        format!(
            "host = \"{}\"\nhttp2 = true\nstreams = 3\n[[requests]]\npath = \"/\"\n\
             [[requests]]\npath = \"/status/503\"\n",
            url(&server, "")
        ),
    )
    .unwrap();
    let report = h2_report(&["-n", "60", "-c", "2", "--scenario", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report["protocol"], "h2");
    assert_eq!(report["streams"], 3);
    assert_eq!(count(&report, "ok"), 60, "{report}");
    let endpoints = report["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2);
}

#[test]
fn options_http2_cannot_honour_exit_2_with_the_way_out() {
    let server = h2_target();
    let target = url(&server, "/");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--http2", "--disable-keepalive"],
            "drop one of --disable-keepalive and --http2",
        ),
        (&["--http2", "--pipeline", "4"], "use --streams N"),
        (
            &["--streams", "4"],
            "--streams is an HTTP/2 option: add --http2",
        ),
        (
            &["--http2", "-H", "Connection: close"],
            "HTTP/2 forbids the connection-specific header",
        ),
        (
            &["--http2", "--h2-window", "100"],
            "HTTP/2 windows must be from 65535",
        ),
        (
            &["--http2", "--streams", "100000"],
            "--streams must be at most 65536",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["-n", "1", "--no-progress"];
        all.extend_from_slice(args);
        all.push(&target);
        let run = ringload(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert_eq!(server.requests(), 0);
}

/// An nginx `server` block speaking HTTP/2 with prior knowledge on `port`.
fn nginx_h2c_block(port: u16) -> String {
    format!(
        "server {{\n listen 127.0.0.1:{port} http2;\n location / {{ return 200 \"hello\"; }}\n }}\n"
    )
}

#[test]
fn nginx_speaks_h2c_with_ringload() {
    let Some(nginx) = Nginx::start_with(Some(&nginx_h2c_block)) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/", nginx.tls_port);
    let report = h2_report(&["--http2", "--streams", "10", "-c", "4", "-n", "5000", &url]);
    assert_eq!(report["protocol"], "h2");
    assert_eq!(count(&report, "ok"), 5000, "{report}");
    assert_eq!(count(&report, "body_bytes"), 5000 * 5);
    assert_eq!(report["status"]["200"], 5000);
}

#[test]
fn nginx_speaks_h2_over_tls_with_ringload() {
    let dir = std::env::temp_dir().join(format!("ringload-h2-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.is_ok_and(|out| out.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have openssl"
        );
        return;
    }
    let block = |port: u16| {
        format!(
            "server {{\n listen 127.0.0.1:{port} ssl http2;\n ssl_certificate {};\n\
             ssl_certificate_key {};\n location / {{ return 200 \"hello\"; }}\n }}\n",
            cert.display(),
            key.display()
        )
    };
    let Some(nginx) = Nginx::start_with(Some(&block)) else {
        return;
    };
    let url = format!("https://127.0.0.1:{}/", nginx.tls_port);
    let report = h2_report(&[
        "--http2",
        "--streams",
        "10",
        "-c",
        "4",
        "-n",
        "3000",
        "--cacert",
        cert.to_str().unwrap(),
        &url,
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report["protocol"], "h2", "{report}");
    assert_eq!(count(&report, "ok"), 3000, "{report}");
    assert_eq!(count(&report, "body_bytes"), 3000 * 5);
}

#[test]
fn rate_stages_thresholds_and_report_files_work_over_h2() {
    let server = h2_target();
    let dir = std::env::temp_dir().join(format!("ringload-h2-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, csv) = (dir.join("run.html"), dir.join("run"));
    let run = ringload(&[
        "--json",
        "--no-progress",
        "--http2",
        "--streams",
        "4",
        "-c",
        "2",
        "--stage",
        "1s:400",
        "--html",
        html.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--fail-on",
        "errors>0",
        "--fail-on",
        "rps>100000",
        &url(&server, "/"),
    ]);
    // Neither threshold is crossed (no error, and far below 100,000 req/s); a stage ramping
    // from 0 to 400 req/s over a second sends about 200 requests.
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    assert_accounting(&report);
    assert_eq!(report["protocol"], "h2");
    let requests = count(&report, "requests");
    assert!((190..=210).contains(&requests), "{report}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    let stats = std::fs::read_to_string(dir.join("run_stats.csv")).unwrap();
    assert!(stats.lines().count() >= 3, "{stats}");
    let failing = ringload(&[
        "--no-progress",
        "--http2",
        "-c",
        "1",
        "-n",
        "20",
        "--fail-on",
        "http_errors>0",
        &url(&server, "/status/503"),
    ]);
    assert_eq!(failing.code, 3, "{}", failing.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
