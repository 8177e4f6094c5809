//! `bench/run`'s table: each function's shipped artifact in the Lambda emulator against moto,
//! beside a bare `lambda_runtime` echo and a Python (awslambdaric + boto3) function.
//!
//!     BENCH_PYTHON=.venv-bench/bin/python BENCH_RUNS=5 target/debug/bench [peering|access|alerts|drain|rated ...]
//!
//! With no names every scenario runs. The references always run: the ratios need them.

mod measure;
mod rated;
mod report;
mod scenarios;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use scenarios::{Destination, Runs};
use testbed::{lambda_artifact, repo_root, venv};

const FUNCTIONS: [&str; 5] = ["vpc-peering", "endpoint-access", "task-alerts", "lifecycle-drain", "bench-echo"];

fn main() {
    let started = Instant::now();
    let runs = Runs(std::env::var("BENCH_RUNS").ok().and_then(|n| n.parse().ok()).filter(|n| *n > 0).unwrap_or(5));
    let python = PathBuf::from(std::env::var_os("BENCH_PYTHON").expect("BENCH_PYTHON: the bench venv's python"));
    let chosen: Vec<String> = std::env::args().skip(1).collect();
    let wanted = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);

    let mut zips = BTreeMap::new();
    for function in FUNCTIONS {
        zips.insert(function, measure::zipped_size(&venv().join("bin/python"), &[&lambda_artifact(function)]));
    }
    let mut files = BTreeMap::new();
    for function in FUNCTIONS {
        if let Some(n) = measure::files_opened_at_init(function, &lambda_artifact(function)) {
            files.insert(function, n);
        }
    }
    let app = repo_root().join("bench/python/app.py");
    zips.insert("python-reference", measure::zipped_size(&venv().join("bin/python"), &[&app]));

    let mut rows = Vec::new();
    let mut step = |what: &str, new: &mut dyn FnMut() -> Vec<scenarios::Row>| {
        let at = Instant::now();
        rows.extend(new());
        eprintln!("bench: {what} measured in {:.0} s", at.elapsed().as_secs_f64());
    };
    step("references", &mut || scenarios::references(&runs, &python).into());
    if wanted("peering") {
        step("peering", &mut || {
            [scenarios::peering(&runs, 1), scenarios::peering(&runs, 100)].into_iter().flatten().collect()
        });
    }
    if wanted("access") {
        step("endpoint access", &mut || {
            [scenarios::endpoint_access(&runs, 1, 1), scenarios::endpoint_access(&runs, 15, 10)]
                .into_iter()
                .flatten()
                .collect()
        });
    }
    if wanted("alerts") {
        step("alerts", &mut || {
            vec![scenarios::alert(&runs, Destination::Sns), scenarios::alert(&runs, Destination::Webhook)]
        });
    }
    if wanted("drain") {
        step("drain", &mut || vec![scenarios::drain(&runs, 50)]);
    }
    let mut at_aws_rates = Vec::new();
    if wanted("rated") {
        let at = Instant::now();
        at_aws_rates.push(rated::peering(100, false));
        at_aws_rates.push(rated::peering(100, true));
        at_aws_rates.push(rated::endpoint_access(15, 10));
        eprintln!("bench: at AWS's request rates measured in {:.0} s", at.elapsed().as_secs_f64());
    }
    report::print(&rows, &zips, &files, runs.0);
    rated::print(&at_aws_rates);
    println!("\n(measured in {:.0} s)", started.elapsed().as_secs_f64());
}
