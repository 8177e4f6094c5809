//! Why did this ECS task stop? A pure classification of a stopped task into one of ten categories.
//!
//! The signal is usually in `containers[].reason` and `exitCode`: the task's `stoppedReason` is often
//! just "Essential container in task exited", `stopCode` can be missing, and reasons come re-cased
//! (`Cannotpullcontainererror`), truncated with `...`, or with a curly apostrophe (`can’t`). So rules
//! match short, stable markers, case-insensitively, and the ordered table `RULES` is read top to bottom:
//! first match wins. [`diagnose`] is the entry point; [`TaskDetail::from_json`] reads either input shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::text::controls_to_spaces_cut;

use Category::*;
use Look::*;

/// A task as both an EventBridge "ECS Task State Change" `detail` and a `describe-tasks` element carry
/// it. Everything is optional: old events have no `stopCode`, tasks that never started have no exit codes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskDetail {
    pub cluster_arn: Option<String>,
    pub task_arn: Option<String>,
    pub task_definition_arn: Option<String>,
    pub group: Option<String>,
    pub launch_type: Option<String>,
    pub capacity_provider_name: Option<String>,
    pub availability_zone: Option<String>,
    pub last_status: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub stopped_at: Option<Timestamp>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub containers: Vec<Container>,
    /// Grows with each state change of the task: with `taskArn`, it names one event (EventBridge may
    /// deliver it twice).
    pub version: Option<i64>,
}

/// `stoppedAt`: ISO 8601 text in events and AWS CLI v2 output, epoch seconds in raw API / CLI v1 JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    Text(String),
    EpochSeconds(f64),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    pub name: Option<String>,
    pub reason: Option<String>,
    pub exit_code: Option<i64>,
    pub last_status: Option<String>,
    pub image: Option<String>,
}

/// Why the input is not a task we can diagnose. Messages are one line (the CLI prints them as is).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("input is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("this is a whole describe-tasks response: pass one element of `tasks` (e.g. `jq '.tasks[0]'`)")]
    WholeDescribeTasks,
    #[error("an EventBridge event of type {0:?}, not \"ECS Task State Change\"")]
    OtherEvent(String),
    #[error("neither an \"ECS Task State Change\" event (no `detail`) nor a describe-tasks task (no `taskArn`)")]
    NotATask,
    #[error("the task has a field of the wrong type: {0}")]
    BadField(serde_json::Error),
}

/// Keys that make a bare object a `describe-tasks` element (or a hand-trimmed one).
const TASK_KEYS: &[&str] = &["taskArn", "stoppedReason", "stopCode", "containers"];

impl TaskDetail {
    /// A whole EventBridge event (the task is its `detail`) or one element of `describe-tasks`' `tasks`.
    pub fn from_json(text: &str) -> Result<Self, InputError> {
        let doc: Value = serde_json::from_str(text).map_err(InputError::NotJson)?;
        let Value::Object(map) = &doc else { return Err(InputError::NotATask) };
        let task = if let Some(detail) = map.get("detail") {
            match map.get("detail-type").and_then(Value::as_str) {
                Some(kind) if kind != "ECS Task State Change" => return Err(InputError::OtherEvent(kind.into())),
                _ => detail,
            }
        } else if TASK_KEYS.iter().any(|key| map.contains_key(*key)) {
            &doc
        } else if map.contains_key("tasks") {
            return Err(InputError::WholeDescribeTasks);
        } else {
            return Err(InputError::NotATask);
        };
        TaskDetail::deserialize(task).map_err(InputError::BadField)
    }
}

/// Declares an enum and its `ALL`, every variant in declaration order, from one list: Rust has no
/// built-in way to list an enum's variants, and two lists kept by hand drift apart.
macro_rules! enum_with_all {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident,)+ }) => {
        $(#[$meta])*
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($name::$variant),+].len()] = [$($name::$variant),+];
        }
    };
}

enum_with_all! {
    /// Why a task stopped, as an alert names it; its id, words and fix are [`Category::id`],
    /// [`Category::words`] and [`Category::hint`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Category {
        OutOfMemory,
        ImagePull,
        SecretsOrNetworkInit,
        HealthCheck,
        AppExit,
        SpotInterruption,
        CapacityOrPlacement,
        PlatformOrHost,
        ScalingOrDeployment,
        Unknown,
    }
}

/// A category's id, its name in words and its fix.
struct About {
    id: &'static str,
    words: &'static str,
    hint: &'static str,
}

impl Category {
    /// The id users write in configuration and see in JSON: `out_of_memory`.
    pub fn id(self) -> &'static str {
        self.about().id
    }

    /// Parse an [`id`](Category::id), ignoring case and surrounding spaces.
    pub fn from_id(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.id().eq_ignore_ascii_case(text.trim()))
    }

    /// The category in words, to start a summary or a title.
    pub fn words(self) -> &'static str {
        self.about().words
    }

    /// The fix, as AWS's documentation gives it (gathered with the stop-reason corpus kept outside this repo).
    pub fn hint(self) -> &'static str {
        self.about().hint
    }

    /// Everything said about a category, in one place per category.
    fn about(self) -> About {
        match self {
            OutOfMemory => About {
                id: "out_of_memory",
                words: "Out of memory",
                hint: "The container's processes used more memory than the task definition allows; load-test to learn \
                    the real memory need, then raise the task / container hard `memory` limit, and watch \
                    `MemoryUtilized` vs `MemoryReserved` in Container Insights.",
            },
            ImagePull => About {
                id: "image_pull",
                words: "Image pull failed",
                hint: "Give the task a route to the registry (public subnet: Auto-assign public IP = ENABLED; private \
                    subnet: NAT gateway, or ECR `api`/`dkr` + S3 gateway VPC endpoints), verify the full repository \
                    URI/tag and the task execution role's ECR permissions; on EC2 free disk space and authenticate \
                    Docker Hub pulls to avoid rate limits.",
            },
            SecretsOrNetworkInit => About {
                id: "secrets_or_network_init",
                words: "Task setup failed (secrets, registry auth, logs, volumes or network)",
                hint: "The task execution role needs `ssm:GetParameters` / `secretsmanager:GetSecretValue` (+ \
                    `kms:Decrypt` for CMK-encrypted values), and on Fargate PV1.4+ the task ENI itself must reach SSM, \
                    Secrets Manager, ECR and CloudWatch Logs (NAT, public IP or VPC endpoints; VPC DNS resolution \
                    enabled). Run the `AWSSupport-TroubleshootECSTaskFailedToStart` runbook.",
            },
            HealthCheck => About {
                id: "health_check",
                words: "Failed health checks",
                hint: "ELB: let the container security group accept traffic from the load balancer, set a service \
                    `healthCheckGracePeriodSeconds`, and check ping port/path/timeout/interval/unhealthy threshold. \
                    Container health check: fix the command (tool present in the image) and give it a `startPeriod`.",
            },
            AppExit => About {
                id: "app_exit",
                words: "Essential container exited",
                hint: "An essential container exited, so ECS stopped the whole task: read the container \
                    `exitCode`/`reason` with DescribeTasks (kept about 1 h) and its awslogs output in CloudWatch Logs; \
                    map the exit code (1 app error, 126/127 command not executable/not found, 139 segfault).",
            },
            SpotInterruption => About {
                id: "spot_interruption",
                words: "Fargate Spot interruption",
                hint: "Fargate Spot gives a 2-minute warning (SIGTERM): handle SIGTERM and set container `stopTimeout` \
                    <= 120 s; mix `FARGATE` and `FARGATE_SPOT` in the capacity provider strategy, since a service is \
                    relaunched on Spot only when capacity exists.",
            },
            CapacityOrPlacement => About {
                id: "capacity_or_placement",
                words: "No capacity to place or start the task",
                hint: "Not enough CPU/memory/ports/ENIs: add instances (or let the capacity provider scale), shrink \
                    the task, use dynamic host ports, enable `awsvpcTrunking`, request quota increases; for Fargate \
                    \"Capacity is unavailable\" retry later or use more AZs/subnets, and size subnets so ENIs can get \
                    IPs.",
            },
            PlatformOrHost => About {
                id: "platform_or_host",
                words: "AWS platform or host event",
                hint: "AWS retires or patches hosts: services are replaced automatically (keep minimum healthy percent \
                    sane), standalone tasks must be re-launched by you; watch AWS Health notices. On EC2, drain \
                    instances before termination (ECS_ENABLE_SPOT_INSTANCE_DRAINING=true for Spot) and keep Docker \
                    storage from filling.",
            },
            ScalingOrDeployment => About {
                id: "scaling_or_deployment",
                words: "Stopped on purpose (deployment, scale-in or StopTask)",
                hint: "Normally benign: a scale-in, a deployment replacing tasks, or `StopTask` (SIGTERM, then SIGKILL \
                    after the stop timeout). If deployments stall, adjust `minimumHealthyPercent`/`maximumPercent` so \
                    the scheduler can start or stop at least one task.",
            },
            Unknown => About {
                id: "unknown",
                words: "Stopped for an unclear reason",
                hint: "Capture stopped tasks before they expire (about 1 h in DescribeTasks) by archiving \"ECS Task \
                    State Change\" events to CloudWatch Logs, then run `AWSSupport-TroubleshootECSTaskFailedToStart`; \
                    contact support for Fargate-internal errors.",
            },
        }
    }

    /// Whether a task-level match should still name a container: these causes live in one container,
    /// a Spot reclaim or a scale-in does not.
    fn blames_a_container(self) -> bool {
        matches!(
            self,
            Category::OutOfMemory
                | Category::ImagePull
                | Category::SecretsOrNetworkInit
                | Category::HealthCheck
                | Category::AppExit
        )
    }
}

/// Where a rule looks and what it looks for. Text markers are lowercase substrings of the reason after
/// [`normalise`]; stop codes are compared whole, ignoring case.
#[derive(Debug, Clone, Copy)]
enum Look {
    /// The task's `stoppedReason`, then each container's `reason` (AWS Batch joins both into one line,
    /// old EC2 events put the cause in the container only).
    AnyReason(&'static [&'static str]),
    /// The task's `stoppedReason` only.
    TaskReason(&'static [&'static str]),
    StopCode(&'static [&'static str]),
    /// A container's `exitCode` is one of these.
    ExitCode(&'static [i64]),
    /// A container's `exitCode` is there and not 0.
    FailedExit,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    category: Category,
    look: Look,
}

const fn rule(category: Category, look: Look) -> Rule {
    Rule { category, look }
}

/// The precedence, first match wins: the platform's own verdict on the host first, then explicit reasons,
/// then stop codes, then exit codes.
const RULES: &[Rule] = &[
    // ECS's own verdict on the host, which beats whatever the containers then report (SIGTERM 143, SIGKILL
    // 137, failed health checks on an impaired instance): Managed Instances auto-repair stops tasks with
    // `InfrastructureHealth` (https://docs.aws.amazon.com/sdk-for-python/v4/reference/clients/ecs/enums/TaskStopCode/,
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AutoRepairConfiguration.html), and it
    // drains every instance at day 14 with "Task stopped during instance draining"
    // (https://docs.aws.amazon.com/batch/latest/userguide/ecs-managed-instances-instance-draining.html).
    rule(PlatformOrHost, StopCode(&["InfrastructureHealth"])),
    rule(PlatformOrHost, AnyReason(&["during instance draining"])),
    // An OOM kill names itself in the container reason whatever the exit code (137, 0 or none), and the
    // task then also says `EssentialContainerExited`. "failed to get container status" is
    // CannotStartContainerError's documented memory case (the container exceeded its `memory` while
    // starting, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html);
    // runc says "container init was OOM-killed (memory limit too low?)".
    rule(
        OutOfMemory,
        AnyReason(&[
            "outofmemory",
            "out of memory",
            "oomkilled",
            "oom-killed",
            "killed due to memory usage",
            "failed to get container status",
        ]),
    ),
    // `exec: "x": executable file not found` comes wrapped in CannotStartContainerError and even
    // ResourceInitializationError: it is the image's command, not secrets or the network.
    rule(AppExit, AnyReason(&["executable file not found", "exec format error"])),
    rule(SpotInterruption, AnyReason(&["spot task was interrupted"])),
    // "Task failed ELB health checks", "Task failed container health checks": often exit 137 or 0.
    rule(HealthCheck, AnyReason(&["health check"])),
    // The EC2 agent names ECR auth failures CannotPullECRContainerError; Docker Hub's rate limit can come
    // bare (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html).
    rule(
        ImagePull,
        AnyReason(&[
            "cannotpullcontainer",
            "cannotpullecrcontainer",
            "can't pull the image",
            "from the amazon ecr repository",
            "toomanyrequests",
            "pull rate limit",
        ]),
    ),
    // Fargate's ResourceInitializationError (secrets, registry auth, log group, EFS), the EC2 agent's own
    // wording for secrets, a log driver that cannot start (also under CannotStartContainerError on EC2)
    // and CannotCreateVolumeError (https://docs.aws.amazon.com/AmazonECS/latest/userguide/stopped-task-error-codes.html).
    // Registry *auth* belongs here, before the ECR connection marker below.
    rule(
        SecretsOrNetworkInit,
        AnyReason(&[
            "resourceinitializationerror",
            "unable to pull secrets",
            "fetching secret data",
            "unable to assume the role",
            "failed to validate logger args",
            "failed to initialize logging driver",
            "cannotcreatevolumeerror",
        ]),
    ),
    rule(ImagePull, AnyReason(&["connection issue between the task and amazon ecr"])),
    // The 2024 wording for Secrets Manager, SSM and CloudWatch Logs.
    rule(SecretsOrNetworkInit, AnyReason(&["connection issue between the task and"])),
    rule(
        CapacityOrPlacement,
        AnyReason(&[
            "resource:cpu",
            "resource:memory",
            "resource:gpu",
            "resource:ports",
            "resource:eni",
            "capacity is unavailable",
            "network interface provisioning",
            "unable to place",
            "placement constraint",
        ]),
    ),
    // Maintenance reasons can be prefixed ("Service x: ECS is performing maintenance..."): substrings.
    // The container runtime failing or timing out (ContainerRuntimeError, ContainerRuntimeTimeoutError,
    // DockerTimeoutError before platform version 1.4) and a disconnected agent (`TaskFailedToStart: AGENT`,
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html) are the host's.
    rule(
        PlatformOrHost,
        AnyReason(&[
            "performing maintenance on the underlying infrastructure",
            "container instance deregistration",
            "host ec2 (instance",
            "dockertimeouterror",
            "containerruntimetimeouterror",
            "containerruntimeerror",
            "could not transition to",
            "cannotstopcontainererror",
            "cannotcreatecontainererror",
            "cannotinspectcontainererror",
            "taskfailedtostart: agent",
        ]),
    ),
    // Not "by user": "Container instance deregistration forced by user" is the host, above.
    rule(
        ScalingOrDeployment,
        AnyReason(&[
            "scaling activity initiated",
            "stopped by user",
            "stopped by the user",
            "killed by user",
            "killed by the user",
            "draining state",
        ]),
    ),
    // Whatever CannotStartContainerError is left (no secrets or network marker): the container's own config.
    rule(AppExit, AnyReason(&["cannotstartcontainererror"])),
    // A Fargate-internal error: nothing in the task to fix, even under TaskFailedToStart.
    rule(Unknown, AnyReason(&["internalerror"])),
    // Some Spot notices came without the reason text; health-check stops come as ServiceSchedulerInitiated,
    // which is why the reason rules above go first.
    rule(SpotInterruption, StopCode(&["SpotInterruption", "TerminationNotice"])),
    rule(ScalingOrDeployment, StopCode(&["UserInitiated", "ServiceSchedulerInitiated"])),
    // Only now exit codes: they must not override an explicit reason (Spot with exit 2, a deployment with 143).
    // Exit 137 alone lands here too: a SIGKILL (stop timeout, health-check kill or the OOM killer), which the
    // summary says in words of its own (`KILLED`); out of memory only with a reason that says so.
    rule(AppExit, FailedExit),
    // An essential container that ended cleanly, with no reason anywhere: nothing says why it ended.
    rule(Unknown, ExitCode(&[0])),
    rule(AppExit, StopCode(&["EssentialContainerExited"])),
    rule(AppExit, TaskReason(&["essential container in task exited"])),
    // A task that never started and names nothing more specific: most often no room to place it.
    rule(CapacityOrPlacement, StopCode(&["TaskFailedToStart"])),
];

/// What a rule matched: the container it points at, the verbatim text, and the rule in words.
#[derive(Debug, Default)]
struct Hit<'a> {
    container: Option<&'a Container>,
    text: Option<&'a str>,
    matched: String,
}

/// Lowercase, and curly apostrophes made straight: AWS's 2024 messages say `can’t`.
fn normalise(text: &str) -> String {
    text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'")
}

fn marker_in(text: &str, markers: &[&'static str]) -> Option<&'static str> {
    let text = normalise(text);
    markers.iter().copied().find(|marker| text.contains(marker))
}

fn task_reason_hit<'a>(task: &'a TaskDetail, markers: &[&'static str]) -> Option<Hit<'a>> {
    let reason = task.stopped_reason.as_deref()?;
    let marker = marker_in(reason, markers)?;
    Some(Hit { container: None, text: Some(reason), matched: format!("stoppedReason contains {marker:?}") })
}

fn container_reason_hit<'a>(task: &'a TaskDetail, markers: &[&'static str]) -> Option<Hit<'a>> {
    task.containers.iter().find_map(|container| {
        let reason = container.reason.as_deref()?;
        let marker = marker_in(reason, markers)?;
        let matched = format!("container reason contains {marker:?}");
        Some(Hit { container: Some(container), text: Some(reason), matched })
    })
}

fn exit_hit(task: &TaskDetail, wanted: impl Fn(i64) -> bool) -> Option<Hit<'_>> {
    task.containers.iter().find_map(|container| {
        let code = container.exit_code.filter(|code| wanted(*code))?;
        let matched = format!("exitCode is {code}");
        Some(Hit { container: Some(container), text: container.reason.as_deref(), matched })
    })
}

impl Look {
    fn find<'a>(&self, task: &'a TaskDetail) -> Option<Hit<'a>> {
        match *self {
            AnyReason(markers) => task_reason_hit(task, markers).or_else(|| container_reason_hit(task, markers)),
            TaskReason(markers) => task_reason_hit(task, markers),
            StopCode(codes) => {
                let code = task.stop_code.as_deref()?;
                let wanted = codes.iter().find(|wanted| wanted.eq_ignore_ascii_case(code))?;
                Some(Hit { container: None, text: None, matched: format!("stopCode is {wanted}") })
            }
            ExitCode(codes) => exit_hit(task, |code| codes.contains(&code)),
            FailedExit => exit_hit(task, |code| code != 0),
        }
    }
}

/// The verbatim fields the diagnosis read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerEvidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    pub category: Category,
    /// One line: the category in words, the deciding reason, and the blamed container's exit code.
    pub summary: String,
    pub hint: &'static str,
    pub evidence: Evidence,
    /// The container to look at, when the cause lives in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The rule that decided, in words (e.g. `container reason contains "outofmemory"`).
    pub matched: String,
}

/// Classify a stopped task. Pure: the same task always gets the same diagnosis.
pub fn diagnose(task: &TaskDetail) -> Diagnosis {
    let found = RULES.iter().find_map(|rule| rule.look.find(task).map(|hit| (rule.category, hit)));
    let (category, hit) = found.unwrap_or((Unknown, Hit { matched: "no rule matched".into(), ..Hit::default() }));
    let container = hit.container.or_else(|| if category.blames_a_container() { suspect(task) } else { None });
    Diagnosis {
        category,
        summary: summary(category, task, hit.text, container),
        hint: category.hint(),
        evidence: evidence(task),
        container: container.and_then(|c| c.name.clone()),
        matched: hit.matched,
    }
}

/// For a task-level match: the container that failed (non-zero exit), else one with a reason.
fn suspect(task: &TaskDetail) -> Option<&Container> {
    let failed = task.containers.iter().find(|c| c.exit_code.is_some_and(|code| code != 0));
    failed.or_else(|| task.containers.iter().find(|c| c.reason.is_some()))
}

/// How a summary starts when an app exit was a SIGKILL (exit 137) that no reason explains: the container
/// was killed, not out of memory unless something says so (the category, and its id, stay `app_exit`).
const KILLED: &str = "Killed (SIGKILL)";

fn summary(category: Category, task: &TaskDetail, text: Option<&str>, container: Option<&Container>) -> String {
    let fact = text.or(task.stopped_reason.as_deref()).or(task.stop_code.as_deref()).unwrap_or("no reason given");
    let killed = category == AppExit && container.is_some_and(|c| c.exit_code == Some(137));
    let words = if killed { KILLED } else { category.words() };
    // Reasons can hold newlines (Batch, hand-joined text) and run long.
    let mut line = format!("{words}: {}", controls_to_spaces_cut(fact, 200));
    if let Some(container) = container {
        let name = container.name.as_deref().unwrap_or("unnamed");
        match container.exit_code {
            Some(code) => line += &format!(" (container {name}, exit {code}: {})", exit_meaning(code, category)),
            None => line += &format!(" (container {name})"),
        }
    }
    line
}

/// What users look up an exit code for. 137 is SIGKILL, OOM only when the reason says so.
fn exit_meaning(code: i64, category: Category) -> String {
    let meaning = match (code, category) {
        (0, OutOfMemory) => "reported as 0 although the container was killed",
        (0, _) => "a clean exit",
        (137, OutOfMemory) => "SIGKILL by the out-of-memory killer",
        (137, _) => {
            "SIGKILL from the stop timeout, a health-check kill or the OOM killer; not called OOM without a reason saying so"
        }
        (139, _) => "SIGSEGV, a segmentation fault",
        (143, _) => "SIGTERM, the process did not handle the stop signal in time",
        (126, _) => "the command is not executable",
        (127, _) => "command not found",
        (129..=192, _) => return format!("killed by signal {}", code - 128),
        _ => "application error",
    };
    meaning.to_string()
}

fn evidence(task: &TaskDetail) -> Evidence {
    let containers = task
        .containers
        .iter()
        .filter(|c| c.reason.is_some() || c.exit_code.is_some())
        .map(|c| ContainerEvidence { name: c.name.clone(), reason: c.reason.clone(), exit_code: c.exit_code })
        .collect();
    Evidence { stop_code: task.stop_code.clone(), stopped_reason: task.stopped_reason.clone(), containers }
}

#[cfg(test)]
mod tests;
