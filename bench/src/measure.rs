//! One measured run of a function: a fresh emulator (a cold start), a warm-up invoke that pays
//! the init, then the scenario's invokes on the warm process, with the figures read back from
//! the emulator's log, `/proc` and the counting proxy.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use testbed::{Lambda, Proxy};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The emulator's `INIT REPORT` of the cold start (ms).
    pub init_ms: f64,
    /// The first invocation's `Duration` (the warm-up), so work moved out of init shows (ms).
    pub first_ms: f64,
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
        first_ms: durations.first().copied().expect("the warm-up invocation"),
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

/// How many files the function's process opens before it first asks the Runtime API for an
/// event (its init), counted by `strace` in a run of its own (strace slows the process, so the
/// run's times are not used). `None` without strace.
pub fn files_opened_at_init(name: &str, bootstrap: &Path) -> Option<usize> {
    let strace = ["/usr/bin/strace", "/bin/strace"].into_iter().map(Path::new).find(|p| p.exists())?;
    let dir = testbed::target_dir().join("tmp");
    std::fs::create_dir_all(&dir).ok()?;
    let trace = dir.join(format!("bench-{name}.strace"));
    let wrapper = dir.join(format!("bench-{name}-traced"));
    let _ = std::fs::remove_file(&trace);
    // Opens and the writes that carry HTTP requests: the first `GET …/invocation/next` ends init.
    let script = format!(
        "#!/bin/sh\nexec {} -f -qq -s 64 -e trace=open,openat,openat2,write,writev,sendto,sendmsg -o {} {}\n",
        strace.display(),
        trace.display(),
        bootstrap.display()
    );
    std::fs::write(&wrapper, script).ok()?;
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).ok()?;
    let lambda = Lambda::start(name, &wrapper, 30, &[]);
    lambda.invoke_json(&serde_json::json!({}));
    lambda.settled(1);
    drop(lambda);
    std::thread::sleep(Duration::from_millis(100));
    Some(opened_before_next(&std::fs::read_to_string(&trace).ok()?))
}

/// Successful opens in an strace log before the first request for an event.
fn opened_before_next(trace: &str) -> usize {
    trace
        .lines()
        .take_while(|l| !l.contains("runtime/invocation/next"))
        .filter(|l| ["open(", "openat(", "openat2(", "<... open"].iter().any(|s| l.contains(s)))
        .filter_map(|l| l.rsplit_once(" = ")?.1.split_whitespace().next()?.parse::<i64>().ok())
        .filter(|fd| *fd >= 0)
        .count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn opens_before_the_first_next_request() {
        let trace = r#"10 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
10 openat(AT_FDCWD, "/root/.aws/config", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
11 openat(AT_FDCWD, "/sys/fs/cgroup/cpu.max", O_RDONLY|O_CLOEXEC <unfinished ...>
11 <... openat resumed>) = 4
10 write(5, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n", 64) = 64
10 openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 6
"#;
        assert_eq!(super::opened_before_next(trace), 2);
    }
}
