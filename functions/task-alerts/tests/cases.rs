//! Every real stopped reason of the stop-reason corpus kept outside this repo, and every error message
//! AWS documents for stopped tasks (`documented-errors.tsv`, each row with its page), wrapped in a
//! real-shaped EventBridge event and piped through the built `explain-stop`, must get its expected
//! category.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Map, Value, json};

/// Copies of the stop-reason corpus kept outside this repo and of AWS's example event kept with it,
/// in the repo's test fixtures so a clone tests on its own; `the_copies_match_the_team_folder`
/// catches drift where the corpus is at hand.
const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/task-alerts/stopped-reasons.tsv");
/// AWS's documented stopped-task error messages (placeholders filled in), each with the page it is from.
const DOCUMENTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/task-alerts/documented-errors.tsv");
const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/task-alerts/ecs-task-state-change.ec2-container-stopped.json"
);
/// Where the stop-reason corpus kept outside this repo is, when it is there: the one place its
/// path is written.
const TEAM_FOLDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

/// Tab-separated rows; a field may be double-quoted, with `""` for a quote inside.
fn parse_tsv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, '\t') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[derive(Debug)]
struct Case {
    id: String,
    stop_code: String,
    stopped_reason: String,
    container_reason: String,
    exit_code: String,
    expected: String,
    source: String,
}

/// The rows of one corpus file (same columns in both).
fn cases(path: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let mut rows = parse_tsv(&text).into_iter();
    let header = rows.next().expect("a header row");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let cols =
        ["id", "stopCode", "stoppedReason", "container_reason", "exit_code", "expected_category", "source"].map(column);
    rows.filter(|row| row.iter().any(|f| !f.is_empty()))
        .map(|row| {
            let get = |i: usize| row.get(cols[i]).cloned().unwrap_or_default();
            Case {
                id: get(0),
                stop_code: get(1),
                stopped_reason: get(2),
                container_reason: get(3),
                exit_code: get(4),
                expected: get(5),
                source: get(6),
            }
        })
        .collect()
}

/// Sets `key` to `value`, or removes it when the corpus field is empty (absent, as in real events).
fn set_or_remove(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(value) => object.insert(key.into(), value),
        None => object.remove(key),
    };
}

fn non_empty(field: &str) -> Option<Value> {
    (!field.is_empty()).then(|| Value::String(field.into()))
}

fn event_for(case: &Case, template: &Value) -> Value {
    let mut event = template.clone();
    let detail = event["detail"].as_object_mut().expect("the template has a detail object");
    detail.insert("lastStatus".into(), json!("STOPPED"));
    detail.insert("desiredStatus".into(), json!("STOPPED"));
    set_or_remove(detail, "stopCode", non_empty(&case.stop_code));
    set_or_remove(detail, "stoppedReason", non_empty(&case.stopped_reason));
    let container = detail["containers"][0].as_object_mut().expect("the template has a container");
    container.insert("lastStatus".into(), json!("STOPPED"));
    set_or_remove(container, "reason", non_empty(&case.container_reason));
    let exit_code = (!case.exit_code.is_empty()).then(|| {
        case.exit_code.parse::<i64>().unwrap_or_else(|_| panic!("{}: exit code {:?}", case.id, case.exit_code))
    });
    set_or_remove(container, "exitCode", exit_code.map(Value::from));
    event
}

fn explain_stop(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_explain-stop"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("explain-stop starts");
    child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("stdin written");
    child.wait_with_output().expect("explain-stop ends")
}

/// The diagnosis as JSON, or why there is none.
fn diagnosis(input: &str) -> Result<Value, String> {
    let out = explain_stop(input);
    if !out.status.success() {
        return Err(format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    serde_json::from_slice(&out.stdout).map_err(|err| format!("stdout is not JSON: {err}"))
}

fn template() -> Value {
    serde_json::from_str(&std::fs::read_to_string(TEMPLATE).expect("template event")).expect("template JSON")
}

/// Every row of `path` through the built `explain-stop`: the rows that got another category, or no answer.
fn mismatches(path: &str) -> (usize, Vec<String>) {
    let template = template();
    let cases = cases(path);
    assert!(!cases.is_empty(), "no rows in {path}");
    let wrong = cases
        .iter()
        .filter_map(|case| {
            let got = match diagnosis(&event_for(case, &template).to_string()) {
                Ok(d) => d["category"].as_str().unwrap_or("<no category>").to_string(),
                Err(err) => format!("<error: {err}>"),
            };
            (got != case.expected).then(|| {
                format!(
                    "{}: expected {}, got {got} (stopCode {:?}, stoppedReason {:?}, container reason {:?}, exit {:?})",
                    case.id, case.expected, case.stop_code, case.stopped_reason, case.container_reason, case.exit_code
                )
            })
        })
        .collect();
    (cases.len(), wrong)
}

#[test]
fn every_corpus_row_gets_its_category() {
    for path in [CASES, DOCUMENTED] {
        let (rows, wrong) = mismatches(path);
        assert!(wrong.is_empty(), "{path}: {} of {rows} rows misclassified:\n{}", wrong.len(), wrong.join("\n"));
    }
}

#[test]
fn every_documented_row_names_its_page() {
    let cases = cases(DOCUMENTED);
    let ids: std::collections::HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), cases.len(), "ids are unique");
    for case in &cases {
        assert!(case.source.starts_with("https://"), "{}: source {:?} is not a page", case.id, case.source);
    }
}

/// A documented row by id, as `explain-stop` diagnoses it.
fn documented(id: &str) -> Value {
    let case = cases(DOCUMENTED).into_iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no row {id}"));
    diagnosis(&event_for(&case, &template()).to_string()).unwrap_or_else(|err| panic!("{id}: {err}"))
}

#[test]
fn explain_stop_says_killed_for_137_alone_and_names_the_host() {
    let killed = documented("doc-30");
    assert_eq!(killed["category"], "app_exit");
    let summary = killed["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("Killed (SIGKILL): Essential container in task exited"), "{killed}");
    assert!(summary.contains("exit 137") && summary.contains("OOM killer"), "{killed}");

    let oom = documented("doc-10");
    assert_eq!(oom["category"], "out_of_memory");
    assert!(oom["summary"].as_str().is_some_and(|s| s.starts_with("Out of memory: ")), "{oom}");

    for id in ["doc-27", "doc-28", "doc-29"] {
        let host = documented(id);
        assert_eq!(host["category"], "platform_or_host", "{id}: {host}");
        assert!(host.get("container").is_none(), "{id}: a host event blames no container: {host}");
    }
}

#[test]
fn a_describe_tasks_element_is_diagnosed() {
    // One element of `aws ecs describe-tasks` `tasks` (CLI v1 style epoch timestamps), two containers.
    let task = json!({
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/MyCluster/36ad4ef947bb470b89010d864574237e",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/MyCluster",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/webserver:5",
        "group": "service:web",
        "launchType": "FARGATE",
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "cpu": "256",
        "memory": "512",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "stoppedAt": 1738614471.392,
        "containers": [
            {"name": "aws-otel-collector", "lastStatus": "STOPPED", "exitCode": 143},
            {"name": "web", "image": "nginx", "lastStatus": "STOPPED", "exitCode": 137,
             "reason": "OutOfMemoryError: Container killed due to memory usage"}
        ],
        "tags": []
    });
    let d = diagnosis(&task.to_string()).expect("a diagnosis");
    assert_eq!(d["category"], "out_of_memory");
    assert_eq!(d["container"], "web");
    assert!(d["summary"].as_str().is_some_and(|s| s.contains("exit 137")), "{d}");
    assert!(d["hint"].as_str().is_some_and(|h| h.contains("memory")), "{d}");
    assert_eq!(d["evidence"]["stoppedReason"], "Essential container in task exited");
    assert_eq!(d["evidence"]["containers"].as_array().map(Vec::len), Some(2));
}

#[test]
fn bad_input_is_one_stderr_line_and_exit_2() {
    for input in ["this is not JSON", r#"{"tasks": []}"#, r#"{"hello": "world"}"#] {
        let out = explain_stop(input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{input}: {stderr}");
        assert!(out.stdout.is_empty(), "{input}");
    }
}

#[test]
fn the_copies_match_the_team_folder() {
    let team = std::path::Path::new(TEAM_FOLDER);
    if !team.join("stopped-reasons").is_dir() {
        eprintln!("{TEAM_FOLDER} is not here: nothing to compare");
        return;
    }
    for (copy, original) in
        [(CASES, "stopped-reasons/cases.tsv"), (TEMPLATE, "events/ecs-task-state-change.ec2-container-stopped.json")]
    {
        let read = |path: &std::path::Path| std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(read(copy.as_ref()) == read(&team.join(original)), "{copy} differs from {original}: copy it again");
    }
}
