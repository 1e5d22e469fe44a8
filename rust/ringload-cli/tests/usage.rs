//! Bad input exits 2 with one line before any connection; `--fail-on` exit codes; the JSON
//! contract validated against its schema.

mod common;

use common::*;

#[test]
fn bad_input_exits_2_with_one_line_and_no_connection() {
    let server = target();
    let good = url(&server, "/");
    let cases: Vec<Vec<String>> = vec![
        vec!["not a url".into()],
        vec!["ftp://127.0.0.1/".into()],
        vec!["http://".into()],
        vec![],
        vec!["-c".into(), "0".into(), good.clone()],
        vec!["-c".into(), "-3".into(), good.clone()],
        vec!["-t".into(), "0".into(), good.clone()],
        vec!["-R".into(), "0".into(), good.clone()],
        vec!["-R".into(), "-5".into(), good.clone()],
        vec!["-n".into(), "0".into(), good.clone()],
        vec!["--pipeline".into(), "0".into(), good.clone()],
        vec!["-d".into(), "ten".into(), good.clone()],
        vec!["-d".into(), "0s".into(), good.clone()],
        vec!["-d".into(), "100000h".into(), good.clone()],
        vec!["--timeout".into(), "9000h".into(), good.clone()],
        vec!["-R".into(), "0.0000001".into(), good.clone()],
        vec!["--timeout".into(), "5parsecs".into(), good.clone()],
        vec!["-H".into(), "NoColon".into(), good.clone()],
        vec!["-H".into(), "X-Evil: a\r\nInjected: 1".into(), good.clone()],
        vec!["-H".into(), "X-Evil: a\r".into(), good.clone()],
        vec![
            "-H".into(),
            "X-Nul: a\0b".replace('\0', "\u{1}"),
            good.clone(),
        ],
        vec!["-m".into(), "GE T".into(), good.clone()],
        vec!["-m".into(), "GET\r\n".into(), good.clone()],
        vec![format!("{good}a\r\nb")],
        vec!["--fail-on".into(), "p99>fast".into(), good.clone()],
        vec!["--no-such-flag".into(), good.clone()],
        vec![
            "--body-file".into(),
            "/nonexistent/body".into(),
            good.clone(),
        ],
        vec![
            "--cacert".into(),
            "/nonexistent/ca.pem".into(),
            good.clone(),
        ],
    ];
    for args in &cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = ringload(&argv);
        assert_eq!(
            run.code, 2,
            "{args:?} should exit 2; stderr: {}",
            run.stderr
        );
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line, got {:?}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
    assert_eq!(server.connections(), 0, "bad input must not connect");
}

#[test]
fn a_url_without_a_scheme_names_the_url_it_meant() {
    let server = target();
    let port = server.addr().port();
    for (written, meant) in [
        (
            format!("127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            format!("localhost:{port}/"),
            format!("http://localhost:{port}/"),
        ),
    ] {
        let run = ringload(&["--no-progress", "-n", "1", &written]);
        assert_eq!(run.code, 2, "{written}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "ringload: the URL {written:?} lacks http:// or https://; did you mean {meant:?}?"
            )
        );
    }
    assert_eq!(server.connections(), 0);
}

#[test]
fn fail_on_sets_the_exit_code() {
    let server = target();
    let target_url = url(&server, "/");
    let pass = ringload(&[
        "--no-progress",
        "-n",
        "200",
        "-c",
        "2",
        "--fail-on",
        "p99>10s",
        "--fail-on",
        "errors>1%",
        "--fail-on",
        "rps<1",
        &target_url,
    ]);
    assert_eq!(pass.code, 0, "{}", pass.stderr);

    let crossed = ringload(&[
        "--no-progress",
        "-n",
        "200",
        "-c",
        "2",
        "--fail-on",
        "p50>=0us",
        &target_url,
    ]);
    assert_eq!(crossed.code, 3);
    assert!(
        crossed.stderr.contains("threshold crossed: p50>=0us"),
        "{}",
        crossed.stderr
    );

    let errors = ringload(&[
        "--no-progress",
        "--json",
        "-n",
        "20",
        "-c",
        "1",
        "--fail-on",
        "errors>0",
        &format!("http://127.0.0.1:{}/", closed_port()),
    ]);
    assert_eq!(errors.code, 3);
    let report = errors.json();
    assert_eq!(report["thresholds"][0]["crossed"], true);

    let http_errors = ringload(&[
        "--no-progress",
        "-n",
        "20",
        "-c",
        "1",
        "--fail-on",
        "http_errors>5%",
        &url(&server, "/status/500"),
    ]);
    assert_eq!(http_errors.code, 3);

    // Without --fail-on, failed requests still exit 0.
    let refused = ringload(&[
        "--no-progress",
        "-n",
        "5",
        "-c",
        "1",
        &format!("http://127.0.0.1:{}/", closed_port()),
    ]);
    assert_eq!(refused.code, 0);
}

#[test]
fn json_output_matches_the_schema() {
    let server = target();
    assert_valid_report(&ringload_json(&[
        "-n",
        "100",
        "-c",
        "2",
        &url(&server, "/"),
    ]));
    assert_valid_report(&ringload_json(&[
        "-R",
        "200",
        "-d",
        "500ms",
        "-c",
        "2",
        &url(&server, "/"),
    ]));
    // An open-model run that fell behind, with its warning.
    let behind = ringload_json(&[
        "-R",
        "1000",
        "-d",
        "500ms",
        "-c",
        "1",
        &url(&server, "/delay/20"),
    ]);
    assert_eq!(behind["schedule_lag"]["behind"], true, "{behind}");
    assert_valid_report(&behind);
    // Over TLS, with the handshake times.
    let (tls, _pem) = tls_target();
    let https = ringload_json(&[
        "-n",
        "20",
        "-c",
        "2",
        "--insecure",
        &format!("https://127.0.0.1:{}/", tls.addr().port()),
    ]);
    assert!(https["tls_us"]["p50"].as_u64().is_some(), "{https}");
    assert_valid_report(&https);
    assert_valid_report(&ringload_json(&[
        "-n",
        "5",
        "-c",
        "1",
        &format!("http://127.0.0.1:{}/", closed_port()),
    ]));
    let with_thresholds = ringload(&[
        "--json",
        "--no-progress",
        "-n",
        "10",
        "-c",
        "1",
        "--fail-on",
        "p99>1s",
        &url(&server, "/"),
    ]);
    assert_valid_report(&with_thresholds.json());
    // A report with no completed request has null latencies, which the schema allows.
    let none = ringload_json(&[
        "-n",
        "3",
        "-c",
        "1",
        &format!("http://127.0.0.1:{}/", closed_port()),
    ]);
    assert!(none["latency_us"]["p99"].is_null());
    // Ramps, a connection per request, and a scenario with its endpoint rows.
    let ramp = ringload_json(&[
        "-c",
        "2",
        "--stage",
        "300ms:200",
        "--stage",
        "200ms:0",
        &url(&server, "/"),
    ]);
    assert!(ramp["timeline"][0]["target_rps"].is_number(), "{ramp}");
    assert_valid_report(&ramp);
    assert_valid_report(&ringload_json(&[
        "--connection-stage",
        "300ms:3",
        "--connection-stage",
        "200ms:1",
        &url(&server, "/"),
    ]));
    let no_keepalive = ringload_json(&[
        "--disable-keepalive",
        "-n",
        "20",
        "-c",
        "2",
        &url(&server, "/"),
    ]);
    assert_eq!(no_keepalive["connects"], 20, "{no_keepalive}");
    assert_valid_report(&no_keepalive);
    let dir = std::env::temp_dir().join(format!("ringload-usage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("schema.json");
    std::fs::write(
        &scenario,
        r#"{"requests": [
            {"name": "home", "path": "/", "weight": 2},
            {"path": "/echo", "json": {"id": "{{seq}}"}},
            {"path": "/status/503"}
        ]}"#,
    )
    .unwrap();
    let mixed = ringload_json(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "-n",
        "60",
        "-c",
        "2",
        &url(&server, ""),
    ]);
    assert_eq!(mixed["endpoints"].as_array().unwrap().len(), 3, "{mixed}");
    assert_valid_report(&mixed);
}

#[test]
fn the_schema_rejects_a_broken_report() {
    let server = target();
    let mut report = ringload_json(&["-n", "10", "-c", "1", &url(&server, "/")]);
    report.as_object_mut().unwrap().remove("requests");
    assert!(!report_schema().is_valid(&report));
}

#[test]
fn url_credentials_never_appear_in_output() {
    let port = closed_port();
    let url = format!("http://alice:hunter2secret@127.0.0.1:{port}/");
    for args in [
        vec!["--no-progress", "-n", "3", "-c", "1", url.as_str()],
        vec![
            "--json",
            "--no-progress",
            "-n",
            "3",
            "-c",
            "1",
            url.as_str(),
        ],
    ] {
        let run = ringload(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("connect"), "{}", run.stdout);
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains("hunter2secret") && !text.contains("alice"),
                "{text}"
            );
        }
    }
    // An '@' later in the path or query must not hide where the userinfo ends.
    for bad_url in [
        "http://alice:hunter2secret@127.0.0.1:notaport/",
        "http://alice:hunter2secret@127.0.0.1:notaport/a@b",
        "http://alice:hunter2secret@127.0.0.1:notaport?to=a@b",
    ] {
        let bad = ringload(&[bad_url]);
        assert_eq!(bad.code, 2);
        assert!(!bad.stderr.contains("hunter2secret"), "{}", bad.stderr);
    }
}

#[test]
fn proxy_environment_variables_are_ignored() {
    let server = target();
    let proxy = HostileServer::play(vec![Step::Read, Step::Hold]).unwrap();
    let proxy_url = proxy.url("");
    let run = ringload_env(
        &[
            "--json",
            "--no-progress",
            "-n",
            "20",
            "-c",
            "2",
            &url(&server, "/"),
        ],
        &[
            ("HTTP_PROXY", proxy_url.as_str()),
            ("http_proxy", proxy_url.as_str()),
            ("HTTPS_PROXY", proxy_url.as_str()),
            ("ALL_PROXY", proxy_url.as_str()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count(&run.json(), "ok"), 20);
    assert_eq!(server.requests(), 20);
    assert_eq!(
        proxy.connections(),
        0,
        "no traffic through a proxy nobody asked for"
    );
}

#[test]
fn a_reader_that_stops_reading_does_not_make_the_run_panic() {
    // `ringload ... | head -1`: the pipe's reader is gone before the report is written.
    let server = target();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args(["-n", "200", "-c", "2", "--no-progress", &url(&server, "/")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
