//! `ipckit bench`: the JSON has the promised fields for every mechanism asked for, the
//! table and the SVG are written, bad arguments are refused, nothing is left behind.

mod common;

use common::*;

#[test]
fn json_rows_have_every_field() {
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
    let rows: serde_json::Value = serde_json::from_slice(&out).expect("one JSON array");
    let rows = rows.as_array().expect("an array");
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
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("channel-spin"));
}

#[test]
fn table_names_the_machine_and_the_targets() {
    let out =
        String::from_utf8(ok(&["bench", "--quick", "-m", "channel", "-m", "spin-line", "-s", "64"])).unwrap();
    assert!(out.starts_with("ipckit bench, "), "{out}");
    assert!(out.contains("| channel | ipckit | 64 |"), "{out}");
    assert!(out.contains("channel 64 B round trip / spin-line"), "{out}");
}

#[test]
fn bad_arguments_are_refused() {
    let bad = run(&["bench", "-m", "carrier-pigeon"], b"");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown mechanism 'carrier-pigeon'"));
    let zero = run(&["bench", "-s", "0"], b"");
    assert_eq!(zero.status.code(), Some(1));
}
