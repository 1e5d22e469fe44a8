//! `--disable-keepalive` (a new connection for every request, `Connection: close` sent), the
//! phase times that show what a connection costs (connect, TLS handshake, first byte), and
//! kept-alive connections that the server ends while they are idle.

mod common;

use std::time::Duration;

use common::*;
use ringload_target::IdleClose;

#[test]
fn every_request_gets_its_own_connection() {
    let server = target();
    let report = ringload_json(&[
        "-n",
        "300",
        "-c",
        "4",
        "--disable-keepalive",
        &url(&server, "/"),
    ]);
    assert_eq!(count(&report, "ok"), 300, "{report}");
    assert_eq!(count(&report, "connects"), 300, "{report}");
    assert_eq!(server.connections(), 300, "server-side connections");
    assert_eq!(server.requests(), 300);
    assert_eq!(failed(&report, "closed") + failed(&report, "read"), 0);
}

#[test]
fn connection_close_is_sent_and_the_client_closes_even_when_the_server_would_not() {
    // This server keeps every connection open whatever the request says.
    let (server, heads) = recording_server();
    let report = ringload_json(&[
        "-n",
        "50",
        "-c",
        "2",
        "-H",
        "Connection: keep-alive",
        "--disable-keepalive",
        &server.url("/"),
    ]);
    assert_eq!(count(&report, "ok"), 50, "{report}");
    assert_eq!(count(&report, "connects"), 50);
    assert_eq!(server.connections(), 50);
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 50);
    for head in heads.iter() {
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("\r\nconnection: close\r\n"), "{head}");
        assert!(!lower.contains("keep-alive"), "{head}");
    }
}

#[test]
fn the_open_model_and_tls_work_without_keep_alive() {
    let server = target();
    let report = ringload_json(&[
        "-R",
        "200",
        "-d",
        "1s",
        "-c",
        "4",
        "--disable-keepalive",
        &url(&server, "/"),
    ]);
    assert_eq!(count(&report, "ok"), 200, "{report}");
    assert_eq!(count(&report, "connects"), 200);

    // Over TLS every request pays a full handshake on its own connection.
    let (tls, _pem) = tls_target();
    let report = ringload_json(&[
        "-n",
        "60",
        "-c",
        "3",
        "--insecure",
        "--disable-keepalive",
        &format!("https://127.0.0.1:{}/", tls.addr().port()),
    ]);
    assert_eq!(count(&report, "ok"), 60, "{report}");
    assert_eq!(count(&report, "connects"), 60);
    assert_eq!(tls.connections(), 60);
}

#[test]
fn a_scenario_file_can_disable_keep_alive() {
    let server = target();
    let dir = std::env::temp_dir().join(format!("ringload-keepalive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("no-keepalive.toml");
    std::fs::write(
        &file,
        "disable_keepalive = true\n[[requests]]\npath = \"/\"\n",
    )
    .unwrap();
    let report = ringload_json(&[
        "-n",
        "40",
        "-c",
        "2",
        "--scenario",
        file.to_str().unwrap(),
        &url(&server, ""),
    ]);
    assert_eq!(count(&report, "connects"), 40, "{report}");
    assert_eq!(server.connections(), 40);
}

#[test]
fn pipelining_without_keep_alive_exits_2_before_any_connection() {
    let server = target();
    let run = ringload(&[
        "-n",
        "10",
        "--pipeline",
        "4",
        "--disable-keepalive",
        &url(&server, "/"),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("pipeline"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(server.connections(), 0);
}

#[test]
fn phase_times_cover_every_new_connection_and_every_response() {
    let server = target();
    // Plain HTTP: connect times, no TLS field; the first byte comes before the last.
    let report = ringload_json(&["-n", "500", "-c", "5", &url(&server, "/bytes/20000")]);
    assert!(report.get("tls_us").is_none(), "{report}");
    let connect = &report["connect_us"];
    assert!(connect["p50"].as_u64().unwrap() > 0, "{report}");
    let ttfb = report["ttfb_us"]["p50"].as_u64().unwrap();
    assert!(
        ttfb <= report["latency_us"]["p50"].as_u64().unwrap(),
        "{report}"
    );

    // Without keep-alive over TLS: a connect and a handshake per request, and the time to the
    // first byte includes both.
    let (tls, _pem) = tls_target();
    let report = ringload_json(&[
        "-n",
        "50",
        "-c",
        "2",
        "--insecure",
        "--disable-keepalive",
        &format!("https://127.0.0.1:{}/", tls.addr().port()),
    ]);
    let handshake = report["tls_us"]["min"].as_u64().unwrap();
    let connect = report["connect_us"]["min"].as_u64().unwrap();
    assert!(
        report["ttfb_us"]["min"].as_u64().unwrap() >= handshake + connect,
        "{report}"
    );
    let text = ringload(&[
        "--no-progress",
        "-n",
        "20",
        "-c",
        "2",
        "--insecure",
        &format!("https://127.0.0.1:{}/", tls.addr().port()),
    ]);
    assert!(
        text.stdout.contains("Phases: connect p50") && text.stdout.contains("tls p50"),
        "{}",
        text.stdout
    );
}

#[test]
fn nginx_accepts_one_connection_per_request() {
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let (accepts_before, requests_before) = nginx.stub_status().unwrap();
    let report = ringload_json(&[
        "-n",
        "200",
        "-c",
        "4",
        "--disable-keepalive",
        &nginx.url("/"),
    ]);
    let (accepts_after, requests_after) = nginx.stub_status().unwrap();
    assert_eq!(count(&report, "ok"), 200, "{report}");
    assert_eq!(report["status"]["204"], 200);
    assert_eq!(count(&report, "connects"), 200);
    // Each stub_status probe is a connection and a request of its own.
    assert_eq!(
        accepts_after - accepts_before - 1,
        200,
        "connections nginx accepted"
    );
    assert_eq!(
        requests_after - requests_before - 1,
        200,
        "requests nginx served"
    );
    // With keep-alive, the same 200 requests take the 4 connections.
    let report = ringload_json(&["-n", "200", "-c", "4", &nginx.url("/")]);
    let (accepts_kept, _) = nginx.stub_status().unwrap();
    assert_eq!(count(&report, "connects"), 4, "{report}");
    assert_eq!(accepts_kept - accepts_after - 1, 4);
}

/// The target ending idle connections as `config` says (over TLS with a self-signed
/// certificate when `tls`), and its base URL.
fn idle_ending_target(config: ServerConfig, tls: bool) -> (Server, String) {
    let (identity, _pem) = ringload_target::self_signed(&["localhost", "127.0.0.1"]);
    let config = ServerConfig {
        tls: tls.then_some(identity),
        ..config
    };
    let server = Server::start(config).unwrap();
    let scheme = if tls { "https" } else { "http" };
    let base = format!("{scheme}://127.0.0.1:{}", server.addr().port());
    (server, base)
}

#[test]
fn connections_the_server_ends_while_idle_cost_no_failure_and_no_resend() {
    // 20 req/s over 10 connections: each idles about half a second, the server ends it after
    // 200 ms. Every way a server ends one: a FIN, a reset, a 408 first, a TLS close_notify.
    let cases = [
        ("FIN", IdleClose::Close, false),
        ("RST", IdleClose::Reset, false),
        ("408", IdleClose::Timeout408, false),
        ("close_notify", IdleClose::Close, true),
    ];
    for (name, how, tls) in cases {
        for method in ["POST", "GET"] {
            let (server, base) = idle_ending_target(
                ServerConfig {
                    idle_timeout: Some(Duration::from_millis(200)),
                    idle_close: how,
                    ..ServerConfig::default()
                },
                tls,
            );
            let target = format!("{base}/echo");
            let report = ringload_json(&[
                "-m",
                method,
                "-b",
                r#"{"a":1}"#,
                "-R",
                "20",
                "-c",
                "10",
                "-d",
                "2s",
                "--insecure",
                &target,
            ]);
            let case = format!("{name} {method}");
            assert_eq!(count(&report, "ok"), 40, "{case}: {report}");
            assert_eq!(
                count(&report, "retries"),
                0,
                "{case}: nothing resent: {report}"
            );
            assert!(
                server.idle_closes() >= 20,
                "{case}: the server did end idle connections"
            );
            // Nothing was written into a connection the server had ended.
            assert_eq!(server.late_requests(), 0, "{case}");
            assert_eq!(server.requests(), 40, "{case}");
        }
    }
}

#[test]
fn a_server_at_its_connection_limit_costs_at_most_stock_locusts_failure_rate() {
    // 30 connections in turn against a server that keeps 20: each new connection ends the one
    // idle longest, as nginx does at worker_connections. Only a close that races the send can
    // fail a POST (stock FastHttpUser: about 0.01-0.03% of requests; 0.1% allowed, over 5,000
    // requests so that the rate is a count, not luck).
    let (server, base) = idle_ending_target(
        ServerConfig {
            max_connections: Some(20),
            ..ServerConfig::default()
        },
        false,
    );
    let target = format!("{base}/echo");
    let report = ringload_json(&[
        "-m", "POST", "-b", "x", "-R", "1000", "-c", "30", "-d", "5s", &target,
    ]);
    let requests = count(&report, "requests");
    let failures = report["failed"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum::<u64>();
    assert!(requests >= 4900, "{report}");
    assert!(
        server.idle_closes() > 500,
        "the limit ended connections: {}",
        server.idle_closes()
    );
    assert!(
        failures * 1000 <= requests,
        "{failures} of {requests} failed: {report}"
    );
    assert_eq!(count(&report, "retries"), 0, "POSTs are never resent");
}
