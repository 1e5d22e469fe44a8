//! `--scenario FILE`: weighted requests picked inside the engine, with per-name rows that add up
//! to the totals and match what the server counted.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

fn scenario_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringload-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn row<'a>(report: &'a Value, method: &str, name: &str) -> &'a Value {
    report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == method && e["name"] == name)
        .unwrap_or_else(|| panic!("no {method} {name} row in {report}"))
}

#[test]
fn weighted_mix_with_exact_per_name_counts() {
    let server = target();
    let file = scenario_file(
        "mix.toml",
        &format!(
            r#"
host = "http://{}"
headers = {{ "X-Api-Key" = "secret" }}

[[requests]]
name = "home"
path = "/"
weight = 1

[[requests]]
name = "kilobyte"
path = "/bytes/1000?cache=no"
weight = 3

[[requests]]
method = "POST"
path = "/echo"
json = {{ sku = 42 }}
weight = 2
"#,
            server.addr()
        ),
    );
    let report = ringload_json(&[
        "--scenario",
        file.to_str().unwrap(),
        "-n",
        "6000",
        "-c",
        "6",
    ]);
    assert_eq!(count(&report, "requests"), 6000);
    assert_eq!(count(&report, "ok"), 6000);
    assert_eq!(server.requests(), 6000);
    assert_eq!(report["method"], "MIXED");

    let home = row(&report, "GET", "home");
    let kilobyte = row(&report, "GET", "kilobyte");
    let echo = row(&report, "POST", "/echo");
    assert_eq!(report["endpoints"].as_array().unwrap().len(), 3);
    // What the engine counted per name is what the server counted per path.
    assert_eq!(home["requests"].as_u64().unwrap(), server.path_count("/"));
    assert_eq!(
        kilobyte["requests"].as_u64().unwrap(),
        server.path_count("/bytes/1000")
    );
    assert_eq!(
        echo["requests"].as_u64().unwrap(),
        server.path_count("/echo")
    );
    // Weights 1:3:2 of 6000: expected 1000/3000/2000; binomial sd <= 39, allow 5 sd.
    for (endpoint, expected) in [(home, 1000u64), (kilobyte, 3000), (echo, 2000)] {
        let n = endpoint["requests"].as_u64().unwrap();
        assert!(
            n.abs_diff(expected) < 200,
            "{} got {n}, expected about {expected}",
            endpoint["name"]
        );
        assert_eq!(endpoint["ok"], endpoint["requests"]);
        assert_eq!(endpoint["status"]["200"], endpoint["requests"]);
        assert!(endpoint["latency_us"]["p99"].as_u64().unwrap() > 0);
    }
    // The rows add up to the totals.
    let sum: u64 = report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 6000);
}

#[test]
fn json_scenario_per_name_failures_and_human_table() {
    let server = target();
    let file = scenario_file(
        "statuses.json",
        &format!(
            r#"{{"host": "http://{}",
                "requests": [
                  {{"name": "ok", "path": "/"}},
                  {{"name": "unavailable", "path": "/status/503"}},
                  {{"name": "refused", "path": "http://{}/status/404"}}
                ]}}"#,
            server.addr(),
            server.addr()
        ),
    );
    let report = ringload_json(&["--scenario", file.to_str().unwrap(), "-n", "900"]);
    assert_eq!(count(&report, "requests"), 900);
    let unavailable = row(&report, "GET", "unavailable");
    assert_eq!(
        unavailable["status"]["503"].as_u64().unwrap(),
        server.path_count("/status/503")
    );
    assert_eq!(
        row(&report, "GET", "refused")["status"]["404"]
            .as_u64()
            .unwrap(),
        server.path_count("/status/404")
    );

    let run = ringload(&[
        "--no-progress",
        "--scenario",
        file.to_str().unwrap(),
        "-n",
        "300",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for needle in [
        "Method",
        "Name",
        "Requests",
        "unavailable",
        "refused",
        "p99",
    ] {
        assert!(run.stdout.contains(needle), "{needle} in\n{}", run.stdout);
    }
}

#[test]
fn a_request_with_a_body_is_a_post_unless_it_names_its_method() {
    let (server, heads) = recording_server();
    let file = scenario_file(
        "methods.toml",
        r#"
[[requests]]
path = "/plain"
[[requests]]
path = "/body"
body = "hello"
[[requests]]
path = "/json"
json = { sku = 42 }
[[requests]]
method = "PUT"
path = "/put"
body = "hello"
"#,
    );
    let report = ringload_json(&[
        "--scenario",
        file.to_str().unwrap(),
        "-n",
        "200",
        "-c",
        "2",
        &server.url("/"),
    ]);
    assert_eq!(count(&report, "ok"), 200);
    assert_eq!(report["method"], "MIXED");
    for (method, name) in [
        ("GET", "/plain"),
        ("POST", "/body"),
        ("POST", "/json"),
        ("PUT", "/put"),
    ] {
        assert!(row(&report, method, name)["requests"].as_u64().unwrap() > 0);
    }
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 200);
    for head in heads.iter() {
        let request_line = head.lines().next().unwrap();
        let expected = match request_line.split(' ').nth(1).unwrap() {
            "/plain" => "get",
            "/body" | "/json" => "post",
            "/put" => "put",
            other => panic!("unexpected path {other}"),
        };
        assert!(
            request_line.starts_with(&format!("{expected} ")),
            "{request_line}"
        );
    }
}

#[test]
fn the_command_line_url_is_the_base_and_headers_combine() {
    let (server, heads) = recording_server();
    let file = scenario_file(
        "base.toml",
        r#"
headers = { "X-Common" = "file", "X-Override" = "file" }
[[requests]]
path = "/a?q=1"
[[requests]]
path = "/b"
headers = { "X-Override" = "request" }
"#,
    );
    let report = ringload_json(&[
        "--scenario",
        file.to_str().unwrap(),
        "-n",
        "200",
        "-c",
        "2",
        "-H",
        "X-Api-Key: abc",
        "-H",
        "X-Common: cli",
        &server.url("/api/"),
    ]);
    assert_eq!(count(&report, "ok"), 200);
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 200);
    for head in heads.iter() {
        assert!(head.contains("x-api-key: abc\r\n"), "{head}");
        assert!(
            head.contains("x-common: cli\r\n"),
            "-H wins over the file: {head}"
        );
        assert!(!head.contains("x-common: file"), "{head}");
        if head.starts_with("get /api/a?q=1 ") {
            assert!(head.contains("x-override: file\r\n"), "{head}");
        } else {
            assert!(
                head.starts_with("get /api/b "),
                "paths join the base: {head}"
            );
            assert!(head.contains("x-override: request\r\n"), "{head}");
            assert!(!head.contains("x-override: file"), "{head}");
        }
    }
}

#[test]
fn bad_scenarios_exit_2_with_one_line_and_no_connection() {
    let server = target();
    let host = format!("http://{}", server.addr());
    let other_origin = "http://127.0.0.2:9/x".to_string();
    let cases = [
        ("nohost.toml", "[[requests]]\npath = \"/\"\n".to_string()),
        ("empty.toml", format!("host = \"{host}\"\nrequests = []\n")),
        (
            "weight.toml",
            format!("host = \"{host}\"\n[[requests]]\npath = \"/\"\nweight = 0\n"),
        ),
        (
            "unknown.toml",
            format!("host = \"{host}\"\n[[requests]]\npath = \"/\"\nwieght = 2\n"),
        ),
        (
            "origin.toml",
            format!("host = \"{host}\"\n[[requests]]\npath = \"{other_origin}\"\n"),
        ),
        (
            "relative.toml",
            format!("host = \"{host}\"\n[[requests]]\npath = \"v1/items\"\n"),
        ),
        (
            "crlf.toml",
            format!(
                "host = \"{host}\"\n[[requests]]\npath = \"/\"\nheaders = {{ X = \"a\\r\\nb\" }}\n"
            ),
        ),
        (
            "trailing_cr.toml",
            format!(
                "host = \"{host}\"\n[[requests]]\npath = \"/\"\nheaders = {{ X = \"a\\r\" }}\n"
            ),
        ),
        (
            "both.toml",
            format!("host = \"{host}\"\n[[requests]]\npath = \"/\"\nbody = \"a\"\njson = 1\n"),
        ),
        ("syntax.toml", "host = \n[[requests\n".to_string()),
        ("syntax.json", "{\"requests\": [".to_string()),
    ];
    for (name, text) in &cases {
        let file = scenario_file(name, text);
        let run = ringload(&["--scenario", file.to_str().unwrap(), "-n", "10"]);
        assert_eq!(run.code, 2, "{name}: exit 2; stderr: {}", run.stderr);
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{name}: one line, got {:?}",
            run.stderr
        );
    }
    let file = scenario_file(
        "ok.toml",
        &format!("host = \"{host}\"\n[[requests]]\npath = \"/\"\n"),
    );
    for extra in [["-b", "x"], ["-m", "PUT"]] {
        let run = ringload(&[
            "--scenario",
            file.to_str().unwrap(),
            extra[0],
            extra[1],
            "-n",
            "10",
        ]);
        assert_eq!(run.code, 2, "{extra:?} conflicts with --scenario");
    }
    let missing = ringload(&["--scenario", "/nonexistent/scenario.toml", "-n", "1"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("cannot read --scenario"));
    assert_eq!(server.connections(), 0, "bad input must not connect");
}
