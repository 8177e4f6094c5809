//! One measured run of a function: a fresh emulator (a cold start), a warm-up invoke that pays
//! the init, then the scenario's invokes on the warm process, with the figures read back from
//! the emulator's log, `/proc` and the counting proxy.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use harness::{Lambda, Proxy};
use serde_json::Value;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The emulator's `INIT REPORT` of the cold start (ms).
    pub init_ms: f64,
    /// The last measured invocation's `Duration` on the warm process (ms).
    pub warm_ms: f64,
    /// `VmHWM` of the function's process after the scenario (KiB).
    pub peak_kib: u64,
    /// The scenario's AWS calls by action (the warm-up makes none).
    pub calls: BTreeMap<String, u64>,
}

/// Run `scenario` on `lambda` after a `warmup` invoke, counting calls on `proxy`.
pub fn sample(lambda: &Lambda, warmup: &Value, proxy: &Proxy, scenario: impl FnOnce(&Lambda)) -> Sample {
    let warm = lambda.invoke_json(warmup);
    assert_eq!(warm.status, 200, "warm-up invoke: {warm:?}");
    proxy.reset();
    scenario(lambda);
    let calls = proxy.calls().counts;
    let invocations = lambda.logs().matches("START RequestId:").count();
    lambda.settled(invocations);
    let durations = lambda.durations_ms();
    Sample {
        init_ms: lambda.init_ms().expect("the emulator logs INIT REPORT at info level"),
        warm_ms: durations.last().copied().filter(|_| durations.len() > 1).expect("a measured invocation"),
        peak_kib: lambda.peak_memory_kib().expect("the function's process is running"),
        calls,
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The size of `files` zipped as `sam build` packages a function (deflate), in bytes.
pub fn zipped_size(python: &Path, files: &[&Path]) -> u64 {
    const ZIP: &str = "import io, sys, zipfile\n\
        buffer = io.BytesIO()\n\
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as z:\n    \
            for f in sys.argv[1:]: z.write(f, f.rsplit('/', 1)[-1])\n\
        print(len(buffer.getvalue()))";
    let out = Command::new(python).arg("-c").arg(ZIP).args(files).output().expect("python runs");
    assert!(out.status.success(), "zip: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a size")
}
