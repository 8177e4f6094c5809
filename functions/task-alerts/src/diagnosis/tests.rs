//! The rule table against the tricky reasons real tasks stop with, and the shapes of input it reads.

use super::*;

fn task(stop_code: &str, stopped_reason: &str, container_reason: &str, exit_code: Option<i64>) -> TaskDetail {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let container =
        Container { name: Some("app".into()), reason: some(container_reason), exit_code, ..Container::default() };
    TaskDetail {
        stop_code: some(stop_code),
        stopped_reason: some(stopped_reason),
        containers: vec![container],
        ..TaskDetail::default()
    }
}

const EXITED: &str = "Essential container in task exited";

/// (what it shows, stopCode, stoppedReason, container reason, exit code, expected)
type Case = (&'static str, &'static str, &'static str, &'static str, Option<i64>, Category);

#[test]
fn tricky_reasons_classify_by_the_table() {
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("OOM with exit 0", "EssentialContainerExited", EXITED, "OutOfMemoryError: Container killed due to memory usage", Some(0), OutOfMemory),
        ("OOM without exit code", "", EXITED, "OutOfMemoryError: Container killed due to memory usage", None, OutOfMemory),
        ("137 alone is not OOM", "EssentialContainerExited", EXITED, "", Some(137), AppExit),
        ("137 from a health check", "ServiceSchedulerInitiated", "Task failed container health checks", "", Some(137), HealthCheck),
        ("ELB health check has no own stop code", "ServiceSchedulerInitiated", "Task failed ELB health checks in (elb x)", "", Some(0), HealthCheck),
        ("exec not found inside ResourceInitializationError", "", "CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: exec: \"-url\": executable file not found in", "", None, AppExit),
        ("sentence case pull error", "TaskFailedToStart", "Cannotpullcontainererror: pull image manifest has been retried 5 time(s)", "", None, ImagePull),
        ("sentence case init error", "TaskFailedToStart", "Resourceinitializationerror: unable to pull secrets or registry auth: execution resource retrieval failed", "", None, SecretsOrNetworkInit),
        ("curly apostrophe", "", "", "The task can’t pull the image. Check your network configuration", None, ImagePull),
        ("ECR image connection issue", "TaskFailedToStart", "The task cannot pull 'x' from the Amazon ECR repository 'y'. There is a connection issue between the task and Amazon ECR.", "", None, ImagePull),
        ("ECR registry auth is init", "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth from Amazon ECR: There is a connection issue between the task and Amazon ECR.", "", None, SecretsOrNetworkInit),
        ("truncated Copilot reason", "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post https://api.ecr....", "", None, SecretsOrNetworkInit),
        ("EC2 agent secrets wording", "", EXITED, "Fetching secret data from AWS Secrets Manager in region us-east-1: secret arn:aws:secretsmanager:x: AccessDeniedException", None, SecretsOrNetworkInit),
        ("pull failure on an old EC2 event", "", EXITED, "CannotPullContainerError: failed to register layer: devicemapper: Error running deviceResume dm_task_run failed", None, ImagePull),
        ("Spot with exit 2", "SpotInterruption", "Your Spot Task was interrupted.", "", Some(2), SpotInterruption),
        ("Spot notice without stop code", "", "Your Spot Task was interrupted.", "", None, SpotInterruption),
        ("deployment with exit 143", "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/123)", "", Some(143), ScalingOrDeployment),
        ("user stop with unhandled SIGTERM", "UserInitiated", "Task stopped by user", "", Some(143), ScalingOrDeployment),
        ("prefixed maintenance", "ServiceSchedulerInitiated", "Service web: ECS is performing maintenance on the underlying infrastructure hosting the task", "", None, PlatformOrHost),
        ("forced by user is the host", "", "Container instance deregistration forced by user", "", None, PlatformOrHost),
        ("Batch joined reason", "", "Essential container in task exited - DockerTimeoutError: Could not transition to created; timed out after waiting 4m0s", "", None, PlatformOrHost),
        ("draining is on purpose", "ServiceSchedulerInitiated", "Service web: container instance is in DRAINING state", "", None, ScalingOrDeployment),
        ("generic start failure is capacity", "TaskFailedToStart", "Task failed to start", "", None, CapacityOrPlacement),
        ("container reason beats TaskFailedToStart", "TaskFailedToStart", "Task failed to start", "CannotPullContainerError: context canceled", None, ImagePull),
        ("placement resource", "TaskFailedToStart", "TaskFailedToStart: RESOURCE:GPU", "", None, CapacityOrPlacement),
        ("internal error is unknown even when it failed to start", "TaskFailedToStart", "InternalError: <reason>", "", None, Unknown),
        ("exit 0 and nothing else", "EssentialContainerExited", EXITED, "", Some(0), Unknown),
        ("no exit code, essential exited", "EssentialContainerExited", EXITED, "", None, AppExit),
        ("no stop code, exit 1", "", EXITED, "", Some(1), AppExit),
        ("nothing at all", "", "", "", None, Unknown),
        ("OOM during container init", "TaskFailedToStart", "CannotStartContainerError: failed to get container status: task 2a1b: not found", "", None, OutOfMemory),
        ("runc's OOM during init", "", EXITED, "CannotStartContainerError: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: container init was OOM-killed (memory limit too low?): unknown", None, OutOfMemory),
        ("CannotPullECRContainerError", "", "", "CannotPullECRContainerError: AccessDeniedException: User is not authorized to perform: ecr:GetAuthorizationToken", None, ImagePull),
        ("bare Docker Hub rate limit", "", "", "ERROR: toomanyrequests: Too Many Requests.", None, ImagePull),
        ("EC2 logging driver", "", EXITED, "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream", None, SecretsOrNetworkInit),
        ("volume not created", "TaskFailedToStart", "CannotCreateVolumeError: failed to create volume", "", None, SecretsOrNetworkInit),
        ("runtime error is the host", "TaskFailedToStart", "ContainerRuntimeError: failed to create containerd task", "", None, PlatformOrHost),
        ("disconnected agent is the host", "TaskFailedToStart", "TaskFailedToStart: AGENT", "", None, PlatformOrHost),
        ("placement constraint", "", "TaskFailedToStart: MemberOf placement constraint unsatisfied", "", None, CapacityOrPlacement),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|&(name, code, reason, container, exit, want)| {
            let got = diagnose(&task(code, reason, container, exit));
            (got.category != want).then(|| format!("{name}: want {want:?}, got {:?} ({})", got.category, got.matched))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Exit 137 is a SIGKILL: the stop timeout, a health-check kill or the OOM killer. Out of memory only
/// when a reason says so; the category stays `app_exit` (its id is configuration) with words of its own.
#[test]
fn exit_137_alone_is_killed_and_oom_only_with_evidence() {
    let alone = diagnose(&task("EssentialContainerExited", EXITED, "", Some(137)));
    assert_eq!((alone.category, alone.matched.as_str()), (AppExit, "exitCode is 137"));
    assert!(alone.summary.starts_with("Killed (SIGKILL): "), "{}", alone.summary);
    assert!(alone.summary.contains("OOM killer"), "{}", alone.summary);

    let oom = diagnose(&task(
        "EssentialContainerExited",
        EXITED,
        "OutOfMemoryError: Container killed due to memory usage",
        Some(137),
    ));
    assert_eq!(oom.category, OutOfMemory);
    assert!(oom.summary.starts_with("Out of memory: OutOfMemoryError"), "{}", oom.summary);

    let crash = diagnose(&task("EssentialContainerExited", EXITED, "", Some(1)));
    assert!(crash.summary.starts_with("Essential container exited: "), "other exits keep the words: {}", crash.summary);
}

/// The platform's verdict on the host beats what the containers then report.
#[test]
fn infrastructure_health_and_managed_instances_draining_are_the_host() {
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("InfrastructureHealth over a SIGKILL", "InfrastructureHealth", EXITED, "", Some(137), PlatformOrHost),
        ("InfrastructureHealth over SIGTERM", "InfrastructureHealth", "", "", Some(143), PlatformOrHost),
        ("InfrastructureHealth over failed health checks", "InfrastructureHealth", "Task failed container health checks", "", Some(137), PlatformOrHost),
        ("stop code in another case", "infrastructurehealth", "", "", None, PlatformOrHost),
        ("Managed Instances draining", "ServiceSchedulerInitiated", "Task stopped during instance draining", "", Some(143), PlatformOrHost),
        ("draining without a stop code", "", "Task stopped during instance draining", "", None, PlatformOrHost),
        ("EC2 draining stays on purpose", "ServiceSchedulerInitiated", "Service web: container instance is in DRAINING state", "", Some(143), ScalingOrDeployment),
    ];
    for &(name, code, reason, container, exit, want) in cases {
        let got = diagnose(&task(code, reason, container, exit));
        assert_eq!(got.category, want, "{name}: {}", got.matched);
        assert_eq!(got.container, None, "{name}: a host event blames no container");
    }
}

#[test]
fn markers_are_lowercase_with_straight_apostrophes() {
    for rule in RULES {
        if let AnyReason(markers) | TaskReason(markers) = rule.look {
            for marker in markers {
                assert_eq!(*marker, normalise(marker), "marker {marker:?} never matches");
            }
        }
    }
}

#[test]
fn summary_names_the_container_and_the_exit_meaning() {
    let d = diagnose(&task("EssentialContainerExited", EXITED, "", Some(137)));
    assert_eq!(d.container.as_deref(), Some("app"));
    assert!(d.summary.contains("exit 137: SIGKILL"), "{}", d.summary);
    assert!(d.summary.contains("not called OOM"), "{}", d.summary);

    let oom = diagnose(&task("", EXITED, "OutOfMemoryError: Container killed due to memory usage", Some(137)));
    assert!(oom.summary.contains("out-of-memory killer"), "{}", oom.summary);

    let segv = diagnose(&task("", EXITED, "", Some(139)));
    assert!(segv.summary.contains("segmentation fault"), "{}", segv.summary);
}

#[test]
fn a_spot_reclaim_blames_no_container() {
    let d = diagnose(&task("SpotInterruption", "Your Spot Task was interrupted.", "", Some(143)));
    assert_eq!(d.container, None);
    assert_eq!(d.evidence.containers.len(), 1, "the exit code is still shown");
}

#[test]
fn evidence_is_verbatim_and_the_summary_one_line() {
    let reason = "CannotPullContainerError: line one\nline two";
    let d = diagnose(&task("TaskFailedToStart", reason, "", None));
    assert_eq!(d.evidence.stopped_reason.as_deref(), Some(reason));
    assert_eq!(d.evidence.stop_code.as_deref(), Some("TaskFailedToStart"));
    assert!(!d.summary.contains('\n'));
}

#[test]
fn reads_both_shapes_and_refuses_others() {
    let event = r#"{"detail-type":"ECS Task State Change","detail":{"stopCode":"UserInitiated","containers":[]}}"#;
    assert_eq!(TaskDetail::from_json(event).map(|t| t.stop_code).ok().flatten().as_deref(), Some("UserInitiated"));

    let element = r#"{"taskArn":"arn:aws:ecs:us-east-1:1:task/c/1","stoppedAt":1700000000.5,"containers":[{"name":"a","exitCode":1}]}"#;
    let parsed = TaskDetail::from_json(element).ok();
    assert_eq!(parsed.as_ref().and_then(|t| t.stopped_at.clone()), Some(Timestamp::EpochSeconds(1700000000.5)));

    assert!(matches!(TaskDetail::from_json("nope"), Err(InputError::NotJson(_))));
    assert!(matches!(TaskDetail::from_json(r#"{"tasks":[]}"#), Err(InputError::WholeDescribeTasks)));
    assert!(matches!(TaskDetail::from_json(r#"{"detail-type":"Other","detail":{}}"#), Err(InputError::OtherEvent(_))));
    assert!(matches!(TaskDetail::from_json("[1]"), Err(InputError::NotATask)));
    assert!(matches!(TaskDetail::from_json(r#"{"taskArn":5}"#), Err(InputError::BadField(_))));
}
