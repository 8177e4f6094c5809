//! The table: medians per row, ratios to both references, the targets beside the figures, and
//! each row's AWS calls by action. A missed target is printed as a finding (✗), never a failure.

use std::collections::BTreeMap;

use crate::measure::median;
use crate::scenarios::{Expect, Row};

/// The targets: init and size from issue #18 (#9's were 1.5× and 6 MB), memory from #9.
const INIT_VS_ECHO: f64 = 1.3;
const PEAK_MIB: f64 = 32.0;
const ZIP_BYTES: u64 = 4_000_000;

pub fn is_read(action: &str) -> bool {
    [":Describe", ":Get", ":List"].iter().any(|p| action.contains(p))
}

/// A row's medians.
struct Figures {
    init_ms: f64,
    first_ms: f64,
    warm_ms: f64,
    peak_mib: f64,
}

fn figures(row: &Row) -> Figures {
    Figures {
        init_ms: median(row.samples.iter().map(|s| s.init_ms).collect()),
        first_ms: median(row.samples.iter().map(|s| s.first_ms).collect()),
        warm_ms: median(row.samples.iter().map(|s| s.warm_ms).collect()),
        peak_mib: median(row.samples.iter().map(|s| s.peak_kib as f64 / 1024.0).collect()),
    }
}

/// The last run's calls (every run makes the same calls; [`varying`] says when not).
fn calls(row: &Row) -> BTreeMap<String, u64> {
    row.samples.last().map(|s| s.calls.clone()).unwrap_or_default()
}

fn varying(row: &Row) -> bool {
    row.samples.windows(2).any(|w| w[0].calls != w[1].calls)
}

fn count(calls: &BTreeMap<String, u64>, read: bool) -> u64 {
    calls.iter().filter(|(a, _)| is_read(a) == read).map(|(_, n)| n).sum()
}

/// Each expectation of `row`, as (what, met).
fn call_checks(row: &Row, rows: &[Row]) -> Vec<(String, bool)> {
    let mine = calls(row);
    row.expected
        .iter()
        .map(|e| match e {
            Expect::Calls(action, n) => {
                let seen = mine.get(*action).copied().unwrap_or(0);
                (format!("{action} = {n} (saw {seen})"), seen == *n)
            }
            Expect::Writes(n) => {
                let seen = count(&mine, false);
                (format!("write calls = {n} (saw {seen})"), seen == *n)
            }
            Expect::SameReadsAs(small) => {
                let reads = |r: &Row| calls(r).into_iter().filter(|(a, _)| is_read(a)).collect::<BTreeMap<_, _>>();
                match rows.iter().find(|r| r.function == row.function && &r.scenario == small) {
                    Some(other) => (
                        format!("reads as at {small} ({} vs {})", count(&mine, true), count(&calls(other), true)),
                        reads(row) == reads(other),
                    ),
                    None => (format!("reads as at {small} (not measured)"), false),
                }
            }
        })
        .collect()
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// Print the table. `zips` holds each function's zipped artifact size in bytes, `files` the
/// files its process opens during init.
pub fn print(rows: &[Row], zips: &BTreeMap<&str, u64>, files: &BTreeMap<&str, usize>, runs: usize) {
    let reference = |name: &str| rows.iter().find(|r| r.function == name).map(figures);
    let (echo, python) = (reference("bench-echo"), reference("python-reference"));
    let ratio = |mine: f64, of: &Option<Figures>, pick: fn(&Figures) -> f64| match of {
        Some(f) if pick(f) > 0.0 => format!("{:.2}×", mine / pick(f)),
        _ => "-".into(),
    };
    println!(
        "\nMedians over {runs} runs, each a cold start in the Lambda emulator against moto, of the artifacts as `sam build` builds them."
    );
    println!(
        "{:<17} {:<42} {:>7} {:>5} {:>8} {:>6} {:>6} {:>7} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6}  targets",
        "function",
        "scenario",
        "zip MB",
        "files",
        "init ms",
        "×echo",
        "×py",
        "1st ms",
        "warm ms",
        "peak MiB",
        "×echo",
        "×py",
        "reads",
        "writes"
    );
    for row in rows {
        let f = figures(row);
        let zip = zips.get(row.function).copied().unwrap_or(0);
        let mine = calls(row);
        let is_reference = matches!(row.function, "bench-echo" | "python-reference");
        let mut targets = Vec::new();
        if !is_reference {
            let init_ok = echo.as_ref().is_some_and(|e| f.init_ms <= INIT_VS_ECHO * e.init_ms);
            targets.push(format!("init{}", mark(init_ok)));
            targets.push(format!("mem{}", mark(f.peak_mib < PEAK_MIB)));
            targets.push(format!("zip{}", mark(zip <= ZIP_BYTES)));
        }
        let checks = call_checks(row, rows);
        targets.push(format!("calls{}", mark(checks.iter().all(|(_, ok)| *ok))));
        println!(
            "{:<17} {:<42} {:>7.3} {:>5} {:>8.1} {:>6} {:>6} {:>7.1} {:>8.1} {:>8.1} {:>6} {:>6} {:>6} {:>6}  {}",
            row.function,
            row.scenario,
            zip as f64 / 1e6,
            files.get(row.function).map_or("-".into(), |n| n.to_string()),
            f.init_ms,
            ratio(f.init_ms, &echo, |e| e.init_ms),
            ratio(f.init_ms, &python, |e| e.init_ms),
            f.first_ms,
            f.warm_ms,
            f.peak_mib,
            ratio(f.peak_mib, &echo, |e| e.peak_mib),
            ratio(f.peak_mib, &python, |e| e.peak_mib),
            count(&mine, true),
            count(&mine, false),
            targets.join(" ")
        );
    }
    println!(
        "\nTargets: init ≤ {INIT_VS_ECHO}× the bare function's (1st ms: the first invocation, the warm-up, beside it); peak memory (VmHWM) < {PEAK_MIB} MiB; zipped artifact ≤ {} MB (files: opened during init); calls as designed:",
        ZIP_BYTES / 1_000_000
    );
    for row in rows {
        let checks = call_checks(row, rows);
        let listed: Vec<String> = checks.iter().map(|(what, ok)| format!("{} {what}", mark(*ok))).collect();
        let note = if varying(row) { " (calls varied between runs; the last run's shown)" } else { "" };
        println!("  {} / {}: {}{note}", row.function, row.scenario, listed.join("; "));
    }
    println!("\nAWS calls by action (one run):");
    for row in rows {
        let all: Vec<String> = calls(row).into_iter().map(|(a, n)| format!("{a} {n}")).collect();
        println!(
            "  {} / {}: {}",
            row.function,
            row.scenario,
            if all.is_empty() { "none".into() } else { all.join(", ") }
        );
    }
}
