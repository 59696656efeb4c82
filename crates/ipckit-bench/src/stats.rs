//! Statistics: percentiles of sorted samples, medians, the spread of paired ratios,
//! and the median of each figure over the rounds of a run.
//!
//! Contract:
//! - [`percentile`] of sorted samples is the nearest-rank value (p = 0.5 of 1..=1000
//!   is 500, p = 0.999 is 999); `None` for no samples;
//! - [`median`] is the middle value, the mean of the middle two for an even count;
//! - [`Spread`] summarizes per-block ratios by nearest-rank quantiles (p10, p50, p90);
//! - [`combine`] takes rounds of rows in the same order (same scenarios) and gives one
//!   row per scenario whose every figure is the median over the rounds that have it;
//!   sample counts add up.

use crate::measure::Row;

/// The value at quantile `p` (0..=1) of `sorted`, nearest rank.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[idx] as f64)
}

/// The median of `v` (the mean of the middle two for an even count).
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// The spread of a set of ratios: its 10th, 50th and 90th percentiles.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Spread {
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    /// How many ratios.
    pub count: usize,
}

impl Spread {
    /// The spread of `ratios`; `None` when there are none.
    pub(crate) fn of(mut ratios: Vec<f64>) -> Option<Spread> {
        if ratios.is_empty() {
            return None;
        }
        ratios.sort_by(f64::total_cmp);
        let q = |p: f64| ratios[((ratios.len() as f64 * p) as usize).min(ratios.len() - 1)];
        Some(Spread { p10: q(0.1), p50: q(0.5), p90: q(0.9), count: ratios.len() })
    }
}

/// The median of each figure over the rounds.
pub(crate) fn combine(mut rounds: Vec<Vec<Row>>) -> Vec<Row> {
    let Some(mut out) = rounds.pop() else { return Vec::new() };
    if rounds.is_empty() {
        return out;
    }
    for (i, row) in out.iter_mut().enumerate() {
        let others: Vec<&Row> = rounds.iter().filter_map(|r| r.get(i)).collect();
        let pick = |f: fn(&Row) -> Option<f64>, row: &Row| {
            median(others.iter().filter_map(|r| f(r)).chain(f(row)).collect())
        };
        let combined = Row {
            rtt_p50_ns: pick(|r| r.rtt_p50_ns, row),
            rtt_p99_ns: pick(|r| r.rtt_p99_ns, row),
            rtt_p999_ns: pick(|r| r.rtt_p999_ns, row),
            rtt_samples: row.rtt_samples + others.iter().map(|r| r.rtt_samples).sum::<usize>(),
            msgs_per_s: pick(|r| r.msgs_per_s, row),
            bytes_per_s: pick(|r| r.bytes_per_s, row),
            idle_cpu_percent: pick(|r| r.idle_cpu_percent, row),
            ..row.clone()
        };
        *row = combined;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), Some(500.0));
        assert_eq!(percentile(&v, 0.99), Some(990.0));
        assert_eq!(percentile(&v, 0.999), Some(999.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
        let s = Spread::of((1..=10).rev().map(f64::from).collect()).unwrap();
        assert_eq!((s.p10, s.p50, s.p90, s.count), (2.0, 6.0, 10.0, 10));
        assert_eq!(Spread::of(Vec::new()), None);
    }
}
