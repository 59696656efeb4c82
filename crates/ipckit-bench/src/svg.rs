//! A plain SVG chart of a report, written by hand: round-trip medians (log scale) by
//! mechanism for one message size, and throughput against message size.

use std::fmt::Write;

use crate::Row;

const W: f64 = 960.0;
const PANEL_H: f64 = 380.0;
const COLORS: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#637939",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Draws the report as an SVG document.
pub fn plot(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" font-family="sans-serif" font-size="12">"#,
        2.0 * PANEL_H + 40.0
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    latency_panel(&mut s, rows, 0.0);
    throughput_panel(&mut s, rows, PANEL_H + 20.0);
    s.push_str("</svg>\n");
    s
}

fn log_y(v: f64, lo: f64, hi: f64, top: f64, h: f64) -> f64 {
    let f = (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln());
    top + h - f * h
}

fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut d = 10f64.powf(lo.log10().floor());
    while d <= hi * 1.0001 {
        if d >= lo * 0.9999 {
            v.push(d);
        }
        d *= 10.0;
    }
    v
}

fn latency_panel(s: &mut String, rows: &[Row], y0: f64) {
    // Prefer 64-byte messages; otherwise the smallest size measured.
    let size = if rows.iter().any(|r| r.size_bytes == 64 && r.rtt_p50_ns.is_some()) {
        64
    } else {
        rows.iter().filter(|r| r.rtt_p50_ns.is_some()).map(|r| r.size_bytes).min().unwrap_or(0)
    };
    let bars: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.rtt_p50_ns.is_some() && (r.size_bytes == size || r.mechanism == crate::Mechanism::SpinLine)
        })
        .collect();
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="15">Round trip, median ({size}-byte messages; log scale)</text>"#,
        W / 2.0,
        y0 + 20.0
    );
    if bars.is_empty() {
        return;
    }
    let (left, top, h) = (80.0, y0 + 40.0, PANEL_H - 130.0);
    let vals: Vec<f64> = bars.iter().map(|r| r.rtt_p50_ns.unwrap_or(1.0)).collect();
    let lo = 10f64.powf(vals.iter().cloned().fold(f64::MAX, f64::min).log10().floor());
    let hi = 10f64.powf(vals.iter().cloned().fold(1.0, f64::max).log10().ceil()).max(lo * 10.0);
    for d in decades(lo, hi) {
        let y = log_y(d, lo, hi, top, h);
        let label = if d < 1000.0 {
            format!("{d} ns")
        } else if d < 1e6 {
            format!("{} µs", d / 1e3)
        } else {
            format!("{} ms", d / 1e6)
        };
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            W - 20.0,
            left - 6.0,
            y + 4.0
        );
    }
    let slot = (W - left - 20.0) / bars.len() as f64;
    for (i, r) in bars.iter().enumerate() {
        let v = r.rtt_p50_ns.unwrap_or(1.0);
        let y = log_y(v, lo, hi, top, h);
        let x = left + i as f64 * slot + slot * 0.15;
        let color = if r.variant == crate::Variant::Raw { "#999" } else { COLORS[i % COLORS.len()] };
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} {}: {:.0} ns</title></rect>"#,
            slot * 0.7,
            top + h - y,
            esc(r.mechanism.name()),
            r.variant,
            v
        );
        let lx = x + slot * 0.35;
        let ly = top + h + 12.0;
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-40 {lx:.1} {ly:.1})">{} {}</text>"#,
            esc(r.mechanism.name()),
            r.variant
        );
    }
}

fn throughput_panel(s: &mut String, rows: &[Row], y0: f64) {
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="15">One-way throughput, bytes/s, by message size (log scales)</text>"#,
        W / 2.0,
        y0 + 20.0
    );
    let pts: Vec<&Row> = rows.iter().filter(|r| r.bytes_per_s.is_some()).collect();
    if pts.is_empty() {
        return;
    }
    let (left, top, h, right) = (80.0, y0 + 40.0, PANEL_H - 100.0, W - 220.0);
    let vals: Vec<f64> = pts.iter().map(|r| r.bytes_per_s.unwrap_or(1.0)).collect();
    let lo = 10f64.powf(vals.iter().cloned().fold(f64::MAX, f64::min).log10().floor());
    let hi = 10f64.powf(vals.iter().cloned().fold(1.0, f64::max).log10().ceil()).max(lo * 10.0);
    let smin = pts.iter().map(|r| r.size_bytes).min().unwrap_or(1).max(1) as f64;
    let smax = (pts.iter().map(|r| r.size_bytes).max().unwrap_or(2) as f64).max(smin * 2.0);
    let x_of = |size: usize| {
        left + ((size.max(1) as f64).ln() - smin.ln()) / (smax.ln() - smin.ln()) * (right - left)
    };
    for d in decades(lo, hi) {
        let y = log_y(d, lo, hi, top, h);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{:.0e}</text>"##,
            left - 6.0,
            y + 4.0,
            d
        );
    }
    let mut sizes: Vec<usize> = pts.iter().map(|r| r.size_bytes).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for sz in &sizes {
        let x = x_of(*sz);
        let _ = write!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{sz}</text>"#, top + h + 16.0);
    }
    // Sorted by name, as the legend reads.
    let mut series: Vec<(&str, crate::Variant)> =
        pts.iter().map(|r| (r.mechanism.name(), r.variant)).collect();
    series.dedup();
    series.sort();
    series.dedup();
    for (i, (m, v)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let dash = if *v == crate::Variant::Raw { r#" stroke-dasharray="5,3""# } else { "" };
        let mut line: Vec<(f64, f64)> = pts
            .iter()
            .filter(|r| r.mechanism.name() == *m && r.variant == *v)
            .map(|r| (x_of(r.size_bytes), log_y(r.bytes_per_s.unwrap_or(1.0), lo, hi, top, h)))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = line.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for (x, y) in &line {
            let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#);
        }
        let ly = top + 14.0 * i as f64;
        let _ = write!(
            s,
            r#"<line x1="{}" x2="{}" y1="{ly:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="{:.1}">{} {v}</text>"#,
            right + 20.0,
            right + 45.0,
            right + 50.0,
            ly + 4.0,
            esc(m)
        );
    }
}
