//! `ipckit bench`: the JSON has the promised fields for every mechanism asked for and
//! carries the paired comparisons, the table and the SVG are written, progress shows
//! as plain lines when stderr is not a terminal, bad arguments are refused (the
//! mechanisms checked and listed by clap), nothing is left behind.

use crate::common::*;

#[test]
fn json_has_rows_with_every_field_and_the_comparisons() {
    let dir = open_tempdir();
    let svg = dir.path().join("bench.svg");
    let out = ok(&[
        "bench",
        "--quick",
        "--json",
        "-m",
        "channel-spin",
        "-m",
        "sysv-msg",
        "-m",
        "spin-line",
        "-s",
        "64",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
    assert!(report["started"].as_str().is_some_and(|s| s.len() == 20 && s.ends_with('Z')), "{report}");
    assert!(report["machine"].as_str().is_some_and(|s| s.contains("Linux")), "{report}");
    assert_eq!(report["same_core"], false);
    let rows = report["rows"].as_array().expect("an array of rows");
    let names: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["mechanism"].as_str().unwrap(), r["variant"].as_str().unwrap())).collect();
    assert_eq!(
        names,
        [("sysv-msg", "ipckit"), ("sysv-msg", "raw"), ("channel-spin", "ipckit"), ("spin-line", "raw")]
    );
    for r in rows {
        for field in ["size_bytes", "rtt_p50_ns", "rtt_p99_ns", "rtt_p999_ns", "msgs_per_s", "bytes_per_s"] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        assert_eq!(r["size_bytes"], 64);
        assert!(r["rtt_p50_ns"].as_f64().unwrap() > 0.0);
        assert!(r["rtt_p50_ns"].as_f64() <= r["rtt_p99_ns"].as_f64());
        if r["mechanism"] != "spin-line" {
            assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["bytes_per_s"].as_f64().unwrap() > 0.0, "{r}");
        }
    }
    // channel-spin against spin-line (with a target) and sysv-msg ipckit against raw.
    let comparisons = report["comparisons"].as_array().expect("an array of comparisons");
    let find =
        |what: &str| comparisons.iter().find(|c| c["what"].as_str().is_some_and(|w| w.starts_with(what)));
    let spin = find("channel-spin 64 B round trip / spin-line").expect("channel-spin / spin-line compared");
    let msg = find("sysv-msg 64 B round trip, ipckit / raw").expect("sysv-msg ipckit / raw compared");
    for c in [spin, msg] {
        for field in ["a_p50_ns", "b_p50_ns", "ratio_p50", "ratio_p10", "ratio_p90"] {
            assert!(c[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {c}");
        }
        assert!(c["ratio_p10"].as_f64() <= c["ratio_p50"].as_f64(), "{c}");
        assert!(c["ratio_p50"].as_f64() <= c["ratio_p90"].as_f64(), "{c}");
        assert!(c["blocks"].as_u64().is_some_and(|b| b > 0), "{c}");
        assert!(c["met"].is_boolean(), "{c}");
    }
    assert_eq!(spin["wanted"], "<= 1.3");
    let ratio = spin["ratio_p50"].as_f64().unwrap();
    assert_eq!(spin["met"].as_bool().unwrap(), ratio <= 1.3, "met agrees with the ratio: {spin}");
    // The separately measured checks travel too, each with its figure and target.
    let checks = report["checks"].as_array().expect("an array of checks");
    let check = checks
        .iter()
        .find(|c| c["what"] == "sysv-msg 64 B round trip, ipckit / raw")
        .expect("sysv-msg ipckit / raw checked");
    assert_eq!(check["wanted"], "<= 1.05");
    assert_eq!(check["met"].as_bool().unwrap(), check["measured"].as_f64().unwrap() <= 1.05, "{check}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("channel-spin"));
}

#[test]
fn table_names_the_machine_and_the_targets_with_plain_progress() {
    // stderr is a pipe here, not a terminal: progress comes as plain lines.
    let r = run(&["bench", "--quick", "-m", "channel", "-m", "spin-line", "-s", "64"], b"");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let out = String::from_utf8(r.stdout).unwrap();
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(err.lines().any(|l| l.starts_with("ipckit bench: measuring 0/")), "{err}");
    assert!(err.lines().any(|l| l.starts_with("ipckit bench: measuring 1/") && l.contains("ETA")), "{err}");
    assert!(err.lines().any(|l| l.starts_with("ipckit bench: comparing ")), "{err}");
    assert!(out.starts_with("ipckit bench, "), "{out}");
    assert!(out.contains("| channel | ipckit | 64 |"), "{out}");
    assert!(out.contains("channel 64 B round trip / spin-line"), "{out}");
}

#[test]
fn bad_arguments_are_refused() {
    // clap checks the name and lists the known ones (a usage error: status 2).
    let bad = run(&["bench", "-m", "carrier-pigeon"], b"");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("invalid value 'carrier-pigeon'"), "{err}");
    assert!(err.contains("channel-spin") && err.contains("sysv-msg") && err.contains("spin-ring"), "{err}");
    let zero = run(&["bench", "-s", "0"], b"");
    assert_eq!(zero.status.code(), Some(1));
}

#[test]
fn help_lists_every_mechanism_with_its_meaning() {
    let help = String::from_utf8(ok(&["bench", "--help"])).unwrap();
    for name in [
        "pipe",
        "uds",
        "posix-mq",
        "channel-loan",
        "spin-line",
        "spin-ring",
        "memcpy",
        "channel-idle",
        "bridge-js",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().trim_start_matches("- ").starts_with(&format!("{name}:"))),
            "{name} in\n{help}"
        );
    }
}

#[test]
fn bridge_rows_compare_with_raw_nats_or_say_why_they_are_skipped() {
    let out = ok(&["bench", "--quick", "--json", "-m", "bridge", "-s", "64"]);
    let report: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
    let rows = report["rows"].as_array().expect("rows");
    let variants: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["mechanism"].as_str().unwrap(), r["variant"].as_str().unwrap())).collect();
    // `bridge` brings its second reference, raw JetStream, along.
    assert_eq!(variants, [("bridge", "ipckit"), ("bridge", "raw"), ("bridge-js", "raw")], "{report}");
    let installed = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if !installed {
        // Skipped rows say why; no comparison is made.
        assert!(rows.iter().all(|r| r["skipped"].as_str().is_some_and(|s| s.contains("nats-server"))));
        assert_eq!(report["comparisons"].as_array().map(Vec::len), Some(0));
        return;
    }
    assert!(rows.iter().all(|r| r["rtt_p50_ns"].as_f64().is_some_and(|v| v > 0.0)), "{report}");
    assert!(rows[0]["msgs_per_s"].as_f64().is_some_and(|v| v > 0.0), "{report}");
    let c = report["comparisons"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["what"] == "bridge 64 B round trip / raw NATS request-reply"))
        .expect("the bridge compared with raw NATS");
    assert_eq!(c["wanted"], "<= 1.5");
    assert_eq!(c["met"].as_bool().unwrap(), c["ratio_p50"].as_f64().unwrap() <= 1.5, "{c}");
    for what in [
        "bridge 64 B round trip / raw JetStream publish-pull (the bridges' own cost)",
        "bridge-js 64 B round trip / raw NATS request-reply (JetStream's cost)",
    ] {
        let c = report["comparisons"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["what"] == what))
            .unwrap_or_else(|| panic!("{what} in {report}"));
        assert_eq!(c["wanted"], "-", "{c}");
        assert!(c["ratio_p50"].as_f64().is_some_and(|r| r > 0.0), "{c}");
    }
    let checks = report["checks"].as_array().expect("checks");
    let t =
        checks.iter().find(|c| c["what"] == "bridge 64 B throughput, messages/s").expect("throughput check");
    assert_eq!(t["wanted"], ">= 50000");
    assert_eq!(t["met"].as_bool().unwrap(), t["measured"].as_f64().unwrap() >= 50000.0, "{t}");
}
