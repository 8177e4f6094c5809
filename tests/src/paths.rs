use std::path::PathBuf;

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repo").to_path_buf()
}

/// `function`'s sample event `name`: the users' examples in `events/<function>/` (what `sam local
/// invoke -e` takes) for the functions that ship, `tests/fixtures/cr-probe/` for the test-only probe.
pub fn sample_event(function: &str, name: &str) -> Value {
    let folder = if function == "cr-probe" { "tests/fixtures" } else { "events" };
    let path = repo_root().join(folder).join(function).join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every sample event of `function` (`events/<function>/*.json`; other files, such as SOURCES.md,
/// are notes), by name, sorted.
pub fn sample_events(function: &str) -> Vec<(String, Value)> {
    let dir = repo_root().join("events").join(function);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter_map(|path| path.file_stem().map(|stem| stem.to_string_lossy().to_string()))
        .collect();
    names.sort();
    names.into_iter().map(|name| (name.clone(), sample_event(function, &name))).collect()
}

/// The tests' Python venv: `$ECS_PLUMBING_VENV`, else `<repo>/.venv`.
pub fn venv() -> PathBuf {
    let venv = std::env::var_os("ECS_PLUMBING_VENV").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv"));
    assert!(venv.join("bin/python").exists(), "no Python venv at {}: run `make venv` (or `make test`)", venv.display());
    venv
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

/// A workspace binary from the dev build (`cargo build --workspace --bins`); from
/// `$ECS_PLUMBING_BINARIES` when set (a copy of them, so that another checkout's build in the same
/// target directory cannot swap them under a running test).
pub fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("ECS_PLUMBING_BINARIES").map(PathBuf::from);
    let path = dir.unwrap_or_else(|| target_dir().join("debug")).join(name);
    assert!(path.exists(), "{} is not built: run `make build` (or `make test`)", path.display());
    path
}

/// The artifact that ships, built as `sam build` builds it (`cargo lambda build --release`).
pub fn lambda_artifact(name: &str) -> PathBuf {
    let path = target_dir().join("lambda").join(name).join("bootstrap");
    assert!(path.exists(), "{} is not built: run `make artifacts` (or `make test`)", path.display());
    path
}

/// The Runtime Interface Emulator that ships inside aws-sam-cli, for this machine's arch.
pub(crate) fn rie() -> PathBuf {
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "x86_64" };
    let lib = venv().join("lib");
    std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join(format!("site-packages/samcli/local/rapid/aws-lambda-rie-{arch}")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no aws-lambda-rie-{arch} under {}: is aws-sam-cli installed?", lib.display()))
}
