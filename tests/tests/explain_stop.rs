//! `explain-stop` asking ECS itself, against moto behind the counting proxy: the built binary run as
//! a person runs it, with the SDK's usual settings (`AWS_ENDPOINT_URL`, `AWS_REGION`, the access
//! keys), on a stopped task and on a service.
//!
//! Where moto lacks what ECS does, the test plays ECS's part or says so:
//! - moto never stops a task on its own: the test stops them with StopTask and the reason ECS gives
//!   when an essential container exits; moto records no `stoppedAt`, `stopCode` or container
//!   reason, and exit code 0 for every container, so the diagnosis reads the stopped reason and a
//!   clean exit (category `unknown`), and the newest stops are told apart by the list's order.
//! - moto's ListTasks ignores `serviceName` (every task of the cluster comes back): the
//!   standalone task stopped here must not be explained as the service's.
//! - moto writes no service events: the launcher's `/moto-api/ecs/service-events` sets them.
//! - moto answers DescribeTasks for a task it does not have with neither the task nor a `MISSING`
//!   failure (ECS gives the failure); `explain-stop` reads both the same way.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use testbed::{Aws, Moto, Proxy, agent, binary};

const CLUSTER: &str = "prod";
const STOPPED_REASON: &str = "Essential container in task exited";

struct World {
    moto: Moto,
    proxy: Proxy,
    aws: Aws,
    /// The service `api`'s stopped tasks, in the order stopped.
    stopped: Vec<String>,
    running: String,
    standalone: String,
}

impl World {
    fn start() -> Self {
        let moto = Moto::start();
        let proxy = Proxy::start(&moto.url());
        let aws = Aws::new(&moto.url());
        // Tasks stay where the test puts them: moto otherwise advances a task one state per describe.
        let pin = json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}});
        let url = format!("{}/moto-api/state-manager/set-transition", moto.url());
        let response = agent(Duration::from_secs(10)).post(&url).send_json(&pin).expect("set-transition");
        assert!(response.status().is_success(), "set-transition: {}", response.status());
        let ecs = aws.ecs();
        aws.block_on(ecs.create_cluster().cluster_name(CLUSTER).send()).expect("CreateCluster");
        let instance = container_instance(&aws);
        for family in ["api", "batch"] {
            let container = aws_sdk_ecs::types::ContainerDefinition::builder()
                .name(family)
                .image(format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{family}:1.4.2"))
                .memory(128)
                .cpu(128)
                .essential(true)
                .build();
            let register = ecs.register_task_definition().family(family).container_definitions(container);
            aws.block_on(register.send()).expect("RegisterTaskDefinition");
        }
        for service in ["api", "idle"] {
            let create =
                ecs.create_service().cluster(CLUSTER).service_name(service).task_definition("api").desired_count(1);
            aws.block_on(create.send()).expect("CreateService");
        }
        // ECS's part: the service scheduler starts the service's tasks (group `service:api`).
        let start = |family: &str, group: &str| {
            let start =
                ecs.start_task().cluster(CLUSTER).task_definition(family).container_instances(&instance).group(group);
            let out = aws.block_on(start.send()).expect("StartTask");
            out.tasks()[0].task_arn().expect("a task ARN").to_string()
        };
        let stopped: Vec<String> = (0..3).map(|_| start("api", "service:api")).collect();
        let running = start("api", "service:api");
        let standalone = start("batch", "family:batch");
        for task in stopped.iter().chain([&standalone]) {
            let stop = ecs.stop_task().cluster(CLUSTER).task(task).reason(STOPPED_REASON);
            aws.block_on(stop.send()).expect("StopTask");
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        // As the service scheduler words them (developer guide, "Amazon ECS service event messages").
        let events = json!([
            {"id": "e1", "createdAt": now - 600, "message": "(service api) has reached a steady state."},
            {"id": "e3", "createdAt": now - 60, "message": format!("(service api) has started 1 tasks: (task {}).", id(&running))},
            {"id": "e2", "createdAt": now - 120, "message": format!("(service api) has stopped 1 running tasks: (task {}).", id(&stopped[2]))},
        ]);
        moto.set_service_events(CLUSTER, "api", events);
        World { moto, proxy, aws, stopped, running, standalone }
    }

    /// The built `explain-stop` with `args`, with the SDK's settings a person would have set.
    fn explain(&self, args: &[&str]) -> Output {
        Command::new(binary("explain-stop"))
            .args(args)
            .env("AWS_ENDPOINT_URL", self.proxy.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_DEFAULT_REGION")
            .output()
            .expect("explain-stop runs")
    }
}

/// An EC2 instance registered as a container instance of [`CLUSTER`]; its ARN.
fn container_instance(aws: &Aws) -> String {
    let ec2 = aws.ec2("us-east-1");
    let out = aws.block_on(ec2.run_instances().image_id("ami-12c6146b").min_count(1).max_count(1).send());
    let id = out.expect("RunInstances").instances()[0].instance_id().expect("an instance id").to_string();
    let document = json!({"instanceId": id}).to_string();
    let register = aws.ecs().register_container_instance().cluster(CLUSTER).instance_identity_document(document);
    let out = aws.block_on(register.send()).expect("RegisterContainerInstance");
    out.container_instance().and_then(|c| c.container_instance_arn()).expect("an ARN").to_string()
}

fn id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(out), stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// Exit `code`, nothing on stdout unless `printed`, and one line on stderr; the line.
fn one_line(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {}\nstderr: {err}", stdout(out));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("explain-stop: "), "{err}");
    err
}

#[test]
fn a_stopped_task_and_a_service_explained_from_ecs() {
    let w = World::start();
    let task = &w.stopped[0];

    // --task, by id: JSON, the diagnosis's fields at the top level, one DescribeTasks.
    w.proxy.reset();
    let explained = json_of(&w.explain(&["--cluster", CLUSTER, "--task", id(task)]));
    assert_eq!(explained["taskArn"], task.as_str());
    assert_eq!((&explained["cluster"], &explained["service"]), (&json!("prod"), &json!("api")));
    assert_eq!(explained["evidence"]["stoppedReason"], STOPPED_REASON);
    assert_eq!(explained["lastStatus"], "STOPPED");
    assert!(explained["category"].is_string() && explained["hint"].is_string(), "{explained}");
    assert!(explained["title"].as_str().unwrap_or_default().starts_with("[prod] api: "), "{explained}");
    let console = format!("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/{}/", id(task));
    assert!(explained["consoleUrl"].as_str().unwrap_or_default().starts_with(&console), "{explained}");
    assert_eq!(w.proxy.calls().count("ecs:DescribeTasks"), 1);
    assert_eq!(w.proxy.calls().total(), 1, "DescribeTasks only");

    // --task by ARN, for people.
    let text = w.explain(&["--cluster", CLUSTER, "--task", task, "--format", "text"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.starts_with("[prod] api: "), "{text}");
    for part in ["\n\nFix: ", "\n\nEvidence:\n- ", STOPPED_REASON, "Open the task in the ECS console: ", &console] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }

    // --service --last 2: the newest two of the service's three stopped tasks, its events newest first;
    // neither the running task nor the standalone one (moto lists it under any service name).
    let report = json_of(&w.explain(&["--cluster", CLUSTER, "--service", "api", "--last", "2"]));
    assert_eq!(report["stopped"], 3, "{report}");
    let tasks = report["stoppedTasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "{report}");
    for t in &tasks {
        let arn = t["taskArn"].as_str().unwrap_or_default();
        assert!(w.stopped.iter().any(|s| s == arn), "{arn} is one of the service's stopped tasks");
        assert_ne!(arn, w.running);
        assert_ne!(arn, w.standalone);
        assert_eq!((&t["service"], &t["evidence"]["stoppedReason"]), (&json!("api"), &json!(STOPPED_REASON)));
    }
    let events: Vec<&str> =
        report["events"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(events.len(), 3, "{report}");
    assert!(events[0].contains("has started 1 tasks") && events[2].contains("steady state"), "{events:?}");
    let created = report["events"][0]["createdAt"].as_str().unwrap_or_default();
    assert!(created.ends_with('Z') && created.len() == 20, "RFC 3339 UTC: {created}");

    let text = w.explain(&["--cluster", CLUSTER, "--service", "api", "--last", "1", "--format", "text"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.starts_with("Service api in cluster prod: the newest 1 of 3 stopped tasks"), "{text}");
    assert!(
        text.contains("\n\n1. [prod] api: ") && text.contains("Recent service events, newest first:\n  "),
        "{text}"
    );
    assert!(text.contains("/clusters/prod/services/api/health?region=us-east-1"), "{text}");

    // Nothing to explain: exit 3 and why, in one line.
    let gone = one_line(&w.explain(&["--cluster", CLUSTER, "--task", "0b8f4c2e9d1a4e7f8c6b5a4d3e2f1a0b"]), 3);
    assert!(gone.contains("ECS has no task 0b8f4c2e9d1a4e7f8c6b5a4d3e2f1a0b in cluster prod"), "{gone}");
    assert!(gone.contains("at least one hour"), "the retention: {gone}");
    let running = one_line(&w.explain(&["--cluster", CLUSTER, "--task", id(&w.running)]), 3);
    assert!(running.contains("has not stopped (lastStatus RUNNING"), "{running}");
    let no_service = one_line(&w.explain(&["--cluster", CLUSTER, "--service", "web"]), 3);
    assert!(no_service.contains("ECS has no service web in cluster prod"), "{no_service}");
    let idle = w.explain(&["--cluster", CLUSTER, "--service", "idle"]);
    assert!(one_line(&idle, 3).contains("no stopped task of service idle"));
    let idle: Value = serde_json::from_slice(&idle.stdout).expect("the report is still printed");
    assert_eq!((&idle["stoppedTasks"], &idle["events"]), (&json!([]), &json!([])), "{idle}");

    // AWS errors: exit 1, one line with the fix.
    let no_cluster = one_line(&w.explain(&["--cluster", "staging", "--task", id(task)]), 1);
    assert!(no_cluster.contains("ecs:DescribeTasks failed with ClusterNotFoundException"), "{no_cluster}");
    assert!(no_cluster.contains("check --cluster and the region"), "{no_cluster}");
    w.proxy.add_rule(json!({"action": "ecs:ListTasks", "times": 1, "status": 400, "code": "AccessDeniedException",
        "message": "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ecs:ListTasks"}));
    let denied = one_line(&w.explain(&["--cluster", CLUSTER, "--service", "api"]), 1);
    assert!(denied.contains("allow ecs:ListTasks for the credentials in use"), "{denied}");
    let _ = (&w.moto, &w.aws);
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let cases: [&[&str]; 6] = [
        &["--cluster", "prod"],
        &["--task", "0b8f4c2e"],
        &["--cluster", "prod", "--service", "api", "--last", "0"],
        &["--cluster", "prod", "--task", "a", "--service", "api"],
        &["--cluster", "prod", "--task", "a", "--format", "yaml"],
        &["--tasks", "a"],
    ];
    for args in cases {
        // No AWS settings at all: arguments are refused before anything is read.
        let out =
            Command::new(binary("explain-stop")).args(args).env("AWS_REGION", "us-east-1").output().expect("runs");
        let line = one_line(&out, 2);
        assert!(line.trim_end().ends_with("see explain-stop --help"), "{args:?}: {line}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
