//! Templated requests (`--template`, and every scenario request): what the server receives,
//! and bad templates refused before any connection.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use common::*;

fn dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ringload-templates-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The request target of each recorded head, and its header `name`'s value.
fn targets(heads: &[String]) -> Vec<String> {
    heads
        .iter()
        .map(|h| h.split(' ').nth(1).unwrap_or("").to_string())
        .collect()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn seq_gives_every_request_its_own_value_exactly_once_across_workers_and_connections() {
    let (server, heads) = recording_server();
    let url = format!(
        "http://{}/items/{{{{seq}}}}?page={{{{seq}}}}",
        server.addr()
    );
    let report = ringload_json(&[
        "--template",
        "-n",
        "300",
        "-c",
        "6",
        "-t",
        "2",
        "-H",
        "X-Seq: {{seq}}",
        &url,
    ]);
    assert_eq!(report["ok"], 300, "{report}");
    let heads = heads.lock().unwrap();
    let mut seen: Vec<u64> = Vec::new();
    for (head, target) in heads.iter().zip(targets(&heads)) {
        let rest = target.strip_prefix("/items/").expect(&target);
        let (item, page) = rest.split_once("?page=").expect(&target);
        // Every {{seq}} of one request is the same value: the request's number.
        assert_eq!(item, page, "{head}");
        assert_eq!(header(head, "x-seq"), Some(item), "{head}");
        seen.push(item.parse().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..300).collect::<Vec<u64>>(), "each value once");
    // The statistics row keeps the URL's path as given, not one row per value.
    assert_eq!(report["endpoints"].as_array().unwrap().len(), 1);
}

#[test]
fn random_values_and_choices_reach_the_server_in_paths_and_headers() {
    let (server, heads) = recording_server();
    let url = format!(
        "http://{}/u/{{{{uuid}}}}/{{{{rand_int 1 1000000000}}}}",
        server.addr()
    );
    let report = ringload_json(&[
        "--template",
        "-n",
        "400",
        "-c",
        "4",
        "-H",
        "X-Colour: {{choice red green blue}}",
        "-m",
        "POST",
        "-b",
        "{\"n\": {{rand_int 1 9}}, \"literal\": \"\\{{seq}}\"}",
        &url,
    ]);
    assert_eq!(report["ok"], 400, "{report}");
    let heads = heads.lock().unwrap();
    assert_eq!(
        heads.len(),
        400,
        "every body's length was right, or heads would be lost"
    );
    let paths = targets(&heads);
    let uuids: HashSet<&str> = paths.iter().map(|p| &p[3..39]).collect();
    let numbers: HashSet<&str> = paths.iter().map(|p| &p[40..]).collect();
    assert_eq!(uuids.len(), 400, "distinct uuids");
    assert!(
        numbers.len() >= 395,
        "random integers repeat rarely: {}",
        numbers.len()
    );
    let mut colours: BTreeMap<&str, u32> = BTreeMap::new();
    for head in heads.iter() {
        *colours
            .entry(header(head, "x-colour").unwrap())
            .or_default() += 1;
        let length: usize = header(head, "content-length").unwrap().parse().unwrap();
        // {"n": D, "literal": "{{seq}}"}: one digit, the escape written as literal braces.
        assert_eq!(length, r#"{"n": 5, "literal": "{{seq}}"}"#.len(), "{head}");
    }
    assert_eq!(
        colours.keys().copied().collect::<Vec<_>>(),
        ["blue", "green", "red"]
    );
    assert!(colours.values().all(|n| *n > 80), "{colours:?}");
}

#[test]
fn a_scenario_reads_lines_from_files_next_to_it() {
    let (server, heads) = recording_server();
    let dir = dir("lines");
    std::fs::write(dir.join("ids.txt"), "alpha\nbeta\ngamma\n").unwrap();
    let file = dir.join("lines.toml");
    std::fs::write(
        &file,
        format!(
            "host = \"http://{}\"\n\n[[requests]]\nname = \"by id\"\npath = \"/id/{{{{line ids.txt}}}}\"\n\
             headers = {{ \"X-Any\" = \"{{{{rand_line ids.txt}}}}\" }}\n",
            server.addr()
        ),
    )
    .unwrap();
    // One connection: the lines arrive in order, wrapping.
    let report = ringload_json(&["--scenario", file.to_str().unwrap(), "-n", "7", "-c", "1"]);
    assert_eq!(report["ok"], 7, "{report}");
    let heads = heads.lock().unwrap();
    assert_eq!(
        targets(&heads),
        ["alpha", "beta", "gamma", "alpha", "beta", "gamma", "alpha"].map(|l| format!("/id/{l}"))
    );
    assert!(heads
        .iter()
        .all(|h| ["alpha", "beta", "gamma"].contains(&header(h, "x-any").unwrap())));
    assert_eq!(report["endpoints"][0]["name"], "by id");
}

#[test]
fn without_template_braces_are_sent_as_written() {
    let (server, heads) = recording_server();
    let url = format!("http://{}/raw", server.addr());
    let report = ringload_json(&["-n", "1", "-H", "X-Raw: {{seq}}", &url]);
    assert_eq!(report["ok"], 1);
    assert_eq!(header(&heads.lock().unwrap()[0], "x-raw"), Some("{{seq}}"));
}

#[test]
fn bad_templates_exit_2_before_any_connection() {
    let server = target();
    let base = format!("http://{}", server.addr());
    let dir = dir("bad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![format!("{base}/{{{{nope}}}}")], "unknown function"),
        (vec![format!("{base}/{{{{seq")], "without a closing"),
        (
            vec![format!("{base}/{{{{line /nonexistent/ids.txt}}}}")],
            "cannot read",
        ),
        (vec![format!("{base}/{{{{rand_int 9 1}}}}")], "above HI"),
        (
            vec![format!("{base}/{{{{rand_int 1 x}}}}")],
            "not an integer",
        ),
        (
            vec!["-H".into(), "X-A: {{uuid 4}}".into(), format!("{base}/")],
            "{{uuid}}",
        ),
        // The template as typed, not what it was checked as.
        (
            vec![format!("{base}/a b{{{{seq}}}}")],
            "invalid request target \"/a b{{seq}}\"",
        ),
    ];
    for (args, reason) in &cases {
        let mut all = vec!["--template", "-n", "5"];
        all.extend(args.iter().map(String::as_str));
        let run = ringload(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        format!("host = \"{base}\"\n\n[[requests]]\npath = \"/{{{{line missing.txt}}}}\"\n"),
    )
    .unwrap();
    let run = ringload(&["--scenario", file.to_str().unwrap(), "-n", "5"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("missing.txt"), "{}", run.stderr);
    assert_eq!(server.requests(), 0);
    assert_eq!(server.connections(), 0);
}
