use std::collections::BTreeSet;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::paths::repo_root;

/// A free port on 127.0.0.1, for the emulator (it needs its ports chosen up front; port 0
/// breaks it). Never the same port twice in one test process, so parallel tests cannot be
/// handed the same one; the Python servers pick their own (port 0) and print it.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// A child process in its own process group, its output in a log file, killed (group and all)
/// by PID when dropped.
pub struct Process {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let dir = repo_root().join("target/testbed-logs");
        std::fs::create_dir_all(&dir).expect("log dir");
        static SPAWNED: AtomicU32 = AtomicU32::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let log = dir.join(format!("{name}-{}-{n}.log", std::process::id()));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { child, name: name.to_string(), log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process (and its children) printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll until `ready` is true; fail fast, with the output, if the process exits.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before {what}:\n{}", self.name, self.output());
            }
            assert!(start.elapsed() < timeout, "{} not {what} after {timeout:?}:\n{}", self.name, self.output());
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Poll the output until a line starts with `prefix`; returns the rest of that line.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(rest) = self.output().lines().find_map(|l| l.strip_prefix(prefix)) {
                return rest.trim().to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before printing {prefix:?}:\n{}", self.name, self.output());
            }
            assert!(
                start.elapsed() < timeout,
                "{} did not print {prefix:?} in {timeout:?}:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Poll until something accepts connections on `port`, as [`Self::wait_for_port`] does; but
    /// `false` if the process exited because an address it was given was taken meanwhile (another
    /// process can get a port between [`free_port`] and the bind, as an outgoing connection's own
    /// port): the caller starts it again on other ports.
    pub fn wait_for_port_unless_taken(&mut self, port: u16, timeout: Duration) -> bool {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let output = self.output();
                if output.contains("address already in use") {
                    return false;
                }
                panic!("{} exited ({status}) before listening on {port}:\n{output}", self.name);
            }
            assert!(
                start.elapsed() < timeout,
                "{} not listening on {port} after {timeout:?}:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        true
    }

    /// Poll until something accepts connections on `port`.
    pub fn wait_for_port(&mut self, port: u16, timeout: Duration) {
        self.wait_until(&format!("listening on {port}"), timeout, || TcpStream::connect(("127.0.0.1", port)).is_ok());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The whole group: the emulator's bootstrap child must not outlive the test.
        let pid = self.child.id() as libc::pid_t;
        #[expect(unsafe_code, reason = "kill(2) on the process group our child leads: no memory is touched")]
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
