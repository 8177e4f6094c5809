//! Service-level ECS events: a deployment that failed, a service that cannot start or place its tasks,
//! a daemon task that cannot start, an instance whose agent disconnected; and the events that say
//! such a problem is over. Pure: an EventBridge event in, what it means out ([`read`]).
//!
//! AWS's pages, which the sample events under `events/task-alerts/` come from:
//! - "Amazon ECS service deployment state change events" (`ECS Deployment State Change`):
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html>
//! - "Amazon ECS service action events" (`ECS Service Action`):
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html>
//! - "Daemon events" (`ECS Daemon Service Action`):
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-daemons-events.html>
//! - "Amazon ECS container instance state change events": "The Amazon ECS container agent disconnects
//!   and reconnects several times per hour as a part of its normal operation, so agent connection
//!   events should be expected", hence the second look after a grace period:
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_container_instance_events.html>
//!
//! `SERVICE_STEADY_STATE` is "reported periodically, so you might receive this message multiple
//! times", and `SERVICE_DEPLOYMENT_COMPLETED` ends every deployment: each is a resolution only after
//! one of the problems it ends was alerted (the suppression table remembers which are open).

use serde_json::Value;
use shared::eventbridge::{self, Unread};

const SOURCE: &str = "aws.ecs";
pub const DEPLOYMENT: &str = "ECS Deployment State Change";
pub const SERVICE_ACTION: &str = "ECS Service Action";
pub const DAEMON_ACTION: &str = "ECS Daemon Service Action";
pub const CONTAINER_INSTANCE: &str = "ECS Container Instance State Change";

enum_with_all! {
    /// A service-level problem an alert names; its id, words and fix are [`Kind::id`], [`Kind::words`]
    /// and [`Kind::hint`]. `IGNORE_CATEGORIES` takes these ids next to the stop categories.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Kind {
        DeploymentFailed,
        TaskStartImpaired,
        TaskPlacementFailure,
        TaskConfigurationFailure,
        ServiceDiscoveryUnhealthy,
        VpcLatticeTargetUnhealthy,
        DaemonPlacementConstraintViolated,
        DaemonTaskStartImpaired,
        AgentDisconnected,
    }
}

/// What `SERVICE_STEADY_STATE` ends: the service-action problems of a service.
pub const STEADY_STATE_ENDS: &[Kind] = &[
    Kind::TaskStartImpaired,
    Kind::TaskPlacementFailure,
    Kind::TaskConfigurationFailure,
    Kind::ServiceDiscoveryUnhealthy,
    Kind::VpcLatticeTargetUnhealthy,
    Kind::DaemonPlacementConstraintViolated,
];

impl Kind {
    /// The id users write in `IGNORE_CATEGORIES` and see in JSON: `deployment_failed`.
    pub fn id(self) -> &'static str {
        self.about().0
    }

    /// Parse an [`id`](Kind::id), ignoring case and surrounding spaces.
    pub fn from_id(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id().eq_ignore_ascii_case(text.trim()))
    }

    /// The problem in words, for a title.
    pub fn words(self) -> &'static str {
        self.about().1
    }

    /// The fix when the event says no more than its name.
    pub fn hint(self) -> &'static str {
        self.about().2
    }

    fn about(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::DeploymentFailed => (
                "deployment_failed",
                "Deployment failed",
                "The deployment circuit breaker stopped the rollout (and rolled back if rollback is on): the \
                 stopped-task alerts of this service (or the service's events: `aws ecs describe-services \
                 --query 'services[0].events[:10]'`) say why the new tasks stopped; fix that (image, configuration, \
                 health check), then deploy again.",
            ),
            Kind::TaskStartImpaired => (
                "task_start_impaired",
                "Tasks keep failing to start",
                "ECS cannot consistently start this service's tasks: the stopped-task alerts of the service (or the \
                 service's events in the console) say why each attempt stopped; fix that cause and ECS starts them \
                 again on its own.",
            ),
            Kind::TaskPlacementFailure => (
                "task_placement_failure",
                "Tasks cannot be placed",
                "No capacity met the task's requirements: add container instances (or let the capacity provider's \
                 managed scaling add them), use larger instance types, or lower the task's cpu/memory.",
            ),
            Kind::TaskConfigurationFailure => (
                "task_configuration_failure",
                "Task configuration rejected",
                "ECS cannot launch the task as configured; the reason names what. Common causes: ECS cannot assume \
                 the task role (its trust policy must name ecs-tasks.amazonaws.com), or tags need the long ARN \
                 format (opt in with `aws ecs put-account-setting-default`).",
            ),
            Kind::ServiceDiscoveryUnhealthy => (
                "service_discovery_unhealthy",
                "Service discovery reports an unhealthy task",
                "A task registered in AWS Cloud Map fails its health check: check the container's health check \
                 and logs; ECS replaces unhealthy tasks, and Cloud Map stops returning them.",
            ),
            Kind::VpcLatticeTargetUnhealthy => (
                "vpc_lattice_target_unhealthy",
                "VPC Lattice target unhealthy",
                "A task registered as a VPC Lattice target fails the target group's health check: let the task's \
                 security group admit VPC Lattice's managed prefix list on the health-check port, and check the \
                 health check's path and port.",
            ),
            Kind::DaemonPlacementConstraintViolated => (
                "daemon_placement_constraint_violated",
                "Daemon task breaks the placement constraints",
                "A DAEMON service's task runs on an instance that no longer meets the service's placement \
                 constraints (its attributes changed): fix the instance's attributes or the constraint.",
            ),
            Kind::DaemonTaskStartImpaired => (
                "daemon_task_start_impaired",
                "Daemon task cannot start",
                "ECS cannot start the daemon task on an instance; a critical daemon's instance is drained and \
                 replaced. The failure type says whether the task never got created (instance resources) or \
                 stopped before RUNNING (its stop reason says why).",
            ),
            Kind::AgentDisconnected => (
                "agent_disconnected",
                "ECS agent disconnected",
                "ECS cannot start or stop tasks on this instance while its agent is disconnected: check the agent \
                 (`systemctl status ecs`, /var/log/ecs/ecs-agent.log) and the instance's route to the ECS endpoints \
                 (a NAT gateway, or the ecs, ecs-agent and ecs-telemetry interface endpoints); AWS's runbook \
                 AWSSupport-TroubleshootECSContainerInstance checks both.",
            ),
        }
    }
}

/// What the problem is about: a service (or daemon) of a cluster, or one container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The account that sent the event (another one's when forwarded to this bus).
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub name: SubjectName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectName {
    Service(String),
    /// A managed daemon, by its name (or, lacking one, `daemon`).
    Daemon(String),
    /// A container instance, by its id (the last part of its ARN).
    Instance(String),
}

impl Subject {
    /// How a title names it: the service, `daemon <name>` or `instance <id>`.
    pub fn label(&self) -> String {
        match &self.name {
            SubjectName::Service(name) => name.clone(),
            SubjectName::Daemon(name) => format!("daemon {name}"),
            SubjectName::Instance(id) => format!("instance {id}"),
        }
    }
}

/// A problem to alert on.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub kind: Kind,
    pub subject: Subject,
    /// One line: what happened, with the event's own reason.
    pub summary: String,
    pub hint: &'static str,
    /// The title's key fact: the placement reason, the failure type or the deployment id.
    pub fact: Option<String>,
    /// Labelled facts for the message's details.
    pub details: Vec<(&'static str, String)>,
    /// The event's own words, verbatim: `eventName`, `eventType`, `reason`, `failureType`.
    pub evidence: Vec<String>,
    /// When it happened, as the event gave it.
    pub at: Option<String>,
    /// The daemon's task, when ECS created one.
    pub task_arn: Option<String>,
    /// `SERVICE_DEPLOYMENT_FAILED`'s deployment, to name its task definitions.
    pub deployment_id: Option<String>,
    /// The container instance, for the agent's second look.
    pub container_instance_arn: Option<String>,
}

/// A service-level event, read.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceEvent {
    /// Alert on it.
    Problem(Box<Problem>),
    /// It ends `ends` of `subject`: a resolution, if one of them was alerted.
    Recovery { subject: Subject, ends: &'static [Kind], event_name: String, at: Option<String> },
    /// The agent disconnected: alert only if it lasts (see the module's note).
    AgentDisconnected(Box<Problem>),
}

/// What [`read`] makes of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Event(ServiceEvent),
    /// A well-formed event not alerted on; says why.
    Ignore(String),
    /// Not an event this function can read; says what is wrong.
    Reject(String),
}

/// Is this one of the detail types [`read`] reads?
pub fn is_service_level(event: &Value) -> bool {
    eventbridge::field(event, "source") == SOURCE
        && [DEPLOYMENT, SERVICE_ACTION, DAEMON_ACTION, CONTAINER_INSTANCE]
            .contains(&eventbridge::field(event, "detail-type"))
}

/// Read a service-level event (`region`: the configured region, else the event's).
pub fn read(event: &Value, region: &str) -> Read {
    let detail_type = eventbridge::field(event, "detail-type");
    let detail = match eventbridge::detail(event, SOURCE, detail_type) {
        Ok(detail) => detail,
        Err(Unread::Ignore(why)) => return Read::Ignore(why),
        Err(Unread::Reject(why)) => return Read::Reject(why),
    };
    let envelope = Envelope {
        account: eventbridge::field(event, "account"),
        region: if region.is_empty() { eventbridge::field(event, "region") } else { region },
        resource: event.get("resources").and_then(|r| r.get(0)).and_then(Value::as_str).unwrap_or(""),
        time: eventbridge::field(event, "time"),
    };
    match detail_type {
        CONTAINER_INSTANCE => container_instance(detail, &envelope),
        DAEMON_ACTION => daemon_action(detail, &envelope),
        _ => service_action(detail_type, detail, &envelope),
    }
}

struct Envelope<'a> {
    account: &'a str,
    region: &'a str,
    /// `resources[0]`: the service's ARN for service and deployment events.
    resource: &'a str,
    time: &'a str,
}

impl Envelope<'_> {
    fn subject(&self, cluster: String, name: SubjectName) -> Subject {
        Subject { account: self.account.to_string(), region: self.region.to_string(), cluster, name }
    }
}

fn text<'a>(detail: &'a Value, name: &str) -> Option<&'a str> {
    detail.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty())
}

/// The name after `:<kind>/` in an ARN: its last path part (`service/<cluster>/<name>` or the old
/// `service/<name>`).
fn arn_name<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let (_, path) = arn.split_once(&format!(":{kind}/"))?;
    path.rsplit('/').next().filter(|name| !name.is_empty())
}

/// The cluster from `clusterArn`, else from a long-format service/task ARN (`service/<cluster>/<name>`).
fn cluster_of(detail: &Value, arn: &str) -> String {
    let from_detail = text(detail, "clusterArn").and_then(|a| arn_name(a, "cluster"));
    let from_arn = || {
        let (_, path) = arn.split_once(":service/").or_else(|| arn.split_once(":task/"))?;
        path.split_once('/').map(|(cluster, _)| cluster).filter(|c| !c.is_empty())
    };
    from_detail.or_else(from_arn).unwrap_or("unknown-cluster").to_string()
}

fn service_action(detail_type: &str, detail: &Value, envelope: &Envelope<'_>) -> Read {
    let Some(event_name) = text(detail, "eventName") else {
        return Read::Reject("the event's detail has no `eventName`".into());
    };
    let Some(service) = arn_name(envelope.resource, "service") else {
        return Read::Reject(format!("the {event_name} event names no service in `resources`"));
    };
    let subject = envelope.subject(cluster_of(detail, envelope.resource), SubjectName::Service(service.to_string()));
    let at = text(detail, "createdAt").or(text(detail, "updatedAt")).or(Some(envelope.time).filter(|t| !t.is_empty()));
    let at = at.map(str::to_string);
    // By `eventName` under either detail type: the service action events' page lists the deployment
    // events among its own too.
    let kind = match event_name {
        "SERVICE_DEPLOYMENT_FAILED" => Kind::DeploymentFailed,
        "SERVICE_DEPLOYMENT_COMPLETED" => {
            let ends = &[Kind::DeploymentFailed];
            return Read::Event(ServiceEvent::Recovery { subject, ends, event_name: event_name.into(), at });
        }
        "SERVICE_STEADY_STATE" => {
            let ends = STEADY_STATE_ENDS;
            return Read::Event(ServiceEvent::Recovery { subject, ends, event_name: event_name.into(), at });
        }
        "SERVICE_TASK_START_IMPAIRED" => Kind::TaskStartImpaired,
        "SERVICE_TASK_PLACEMENT_FAILURE" => Kind::TaskPlacementFailure,
        "SERVICE_TASK_CONFIGURATION_FAILURE" => Kind::TaskConfigurationFailure,
        "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY" => Kind::ServiceDiscoveryUnhealthy,
        "VPC_LATTICE_TARGET_UNHEALTHY" => Kind::VpcLatticeTargetUnhealthy,
        "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED" => Kind::DaemonPlacementConstraintViolated,
        other => return Read::Ignore(format!("{detail_type} {other} is not alerted on")),
    };
    let reason = text(detail, "reason");
    let mut problem = Problem {
        kind,
        subject,
        summary: String::new(),
        hint: kind.hint(),
        fact: None,
        details: Vec::new(),
        evidence: evidence(detail, &["eventName", "eventType", "reason"]),
        at,
        task_arn: None,
        deployment_id: text(detail, "deploymentId").map(str::to_string),
        container_instance_arn: None,
    };
    let providers: Vec<&str> = detail
        .get("capacityProviderArns")
        .and_then(Value::as_array)
        .map(|arns| {
            arns.iter().filter_map(Value::as_str).map(|a| arn_name(a, "capacity-provider").unwrap_or(a)).collect()
        })
        .unwrap_or_default();
    if !providers.is_empty() {
        problem.details.push(("Capacity providers", providers.join(", ")));
    }
    match kind {
        Kind::DeploymentFailed => {
            let id = problem.deployment_id.clone().unwrap_or_else(|| "the deployment".into());
            problem.summary = format!("Deployment {id} failed: {}", reason.unwrap_or("no reason given"));
            problem.fact = problem.deployment_id.clone();
            if let Some(id) = &problem.deployment_id {
                problem.details.push(("Deployment", id.clone()));
            }
        }
        Kind::TaskPlacementFailure => {
            let placement = reason.map(placement_reason);
            let (words, hint) = placement.unwrap_or(("the reason was not given", kind.hint()));
            problem.summary = format!("ECS cannot place this service's tasks: {words}.");
            problem.hint = hint;
            problem.fact = reason.map(str::to_string);
        }
        _ => {
            problem.summary = match reason {
                Some(reason) => format!("{}: {reason}", kind.words()),
                None => format!("{} ({event_name}).", kind.words()),
            };
            problem.fact = reason.filter(|r| r.len() <= 40).map(str::to_string);
        }
    }
    Read::Event(ServiceEvent::Problem(Box::new(problem)))
}

fn daemon_action(detail: &Value, envelope: &Envelope<'_>) -> Read {
    let event_name = text(detail, "eventName").unwrap_or("");
    if event_name != "DAEMON_TASK_START_IMPAIRED" {
        return Read::Ignore(format!("{DAEMON_ACTION} {event_name} is not alerted on"));
    }
    let daemon = ["daemonArn", "daemonRevisionArn"]
        .iter()
        .find_map(|field| text(detail, field).and_then(|arn| arn_daemon_name(arn)))
        .unwrap_or("daemon");
    let task_arn = text(detail, "taskArn").map(str::to_string);
    let arn = task_arn.as_deref().unwrap_or(envelope.resource);
    let subject = envelope.subject(cluster_of(detail, arn), SubjectName::Daemon(daemon.to_string()));
    let failure = text(detail, "failureType");
    let (summary, hint) = match failure {
        Some("TASK_CREATION_FAILED") => (
            "ECS could not create the daemon task on the instance (most often not enough CPU or memory left on it)",
            "Give the daemon room: a larger instance type in the capacity provider, or a smaller daemon task \
             (cpu/memory); a critical daemon's instance is drained and replaced until it fits.",
        ),
        Some("TASK_FAILED_TO_RUN") => (
            "the daemon task was created but stopped before RUNNING (image pull, health check or an exiting container)",
            "Its stopped-task alert (or `aws ecs describe-tasks --query 'tasks[0]' | explain-stop`) says why it \
             stopped; fix that, then ECS starts it again. A critical daemon's instance is drained and replaced \
             meanwhile.",
        ),
        _ => ("ECS cannot start the daemon task", Kind::DaemonTaskStartImpaired.hint()),
    };
    let mut details = Vec::new();
    if let Some(definition) = text(detail, "daemonTaskDefinitionArn") {
        let name = definition.rsplit_once(":daemon-task-definition/").map_or(definition, |(_, name)| name);
        details.push(("Daemon task definition", name.to_string()));
    }
    if let Some(provider) = text(detail, "capacityProviderName") {
        details.push(("Capacity provider", provider.to_string()));
    }
    if let Some(instance) = text(detail, "containerInstanceArn") {
        details.push(("Container instance", arn_name(instance, "container-instance").unwrap_or(instance).to_string()));
    }
    let problem = Problem {
        kind: Kind::DaemonTaskStartImpaired,
        subject,
        summary: format!("{}.", capitalised(summary)),
        hint,
        fact: failure.map(str::to_string),
        details,
        evidence: evidence(detail, &["eventName", "eventType", "failureType", "reason"]),
        at: text(detail, "createdAt").or(Some(envelope.time).filter(|t| !t.is_empty())).map(str::to_string),
        task_arn,
        deployment_id: None,
        container_instance_arn: text(detail, "containerInstanceArn").map(str::to_string),
    };
    Read::Event(ServiceEvent::Problem(Box::new(problem)))
}

/// `…:daemon/<cluster>/<name>` (or `…:daemon/<name>`, or a revision's `…/<name>/<revision>`): the name.
fn arn_daemon_name(arn: &str) -> Option<&str> {
    let (_, path) = arn.split_once(":daemon/").or_else(|| arn.split_once(":daemon-revision/"))?;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [name] | [_, name] => Some(name),
        [_, name, revision] if revision.bytes().all(|b| b.is_ascii_digit()) => Some(name),
        [.., last] => Some(last),
        [] => None,
    }
}

fn container_instance(detail: &Value, envelope: &Envelope<'_>) -> Read {
    let Some(connected) = detail.get("agentConnected").and_then(Value::as_bool) else {
        return Read::Reject("the event's detail has no boolean `agentConnected`".into());
    };
    let Some(arn) = text(detail, "containerInstanceArn") else {
        return Read::Reject("the event's detail has no `containerInstanceArn`".into());
    };
    let id = arn_name(arn, "container-instance").unwrap_or(arn).to_string();
    let subject = envelope.subject(cluster_of(detail, ""), SubjectName::Instance(id));
    let status = text(detail, "status").unwrap_or("");
    let at = text(detail, "updatedAt").or(Some(envelope.time).filter(|t| !t.is_empty())).map(str::to_string);
    if connected {
        let ends = &[Kind::AgentDisconnected];
        let event_name = "agentConnected: true".to_string();
        return Read::Event(ServiceEvent::Recovery { subject, ends, event_name, at });
    }
    if status != "ACTIVE" {
        return Read::Ignore(format!("the agent disconnected on a {status} instance, not an ACTIVE one"));
    }
    let instance = InstanceState {
        status: status.to_string(),
        agent_connected: false,
        running_tasks: detail.get("runningTasksCount").and_then(Value::as_i64),
        ec2_instance_id: text(detail, "ec2InstanceId").map(str::to_string),
        agent_version: detail.pointer("/versionInfo/agentVersion").and_then(Value::as_str).map(str::to_string),
    };
    let mut problem = agent_problem(subject, &instance, None);
    problem.container_instance_arn = Some(arn.to_string());
    problem.at = at;
    Read::Event(ServiceEvent::AgentDisconnected(Box::new(problem)))
}

/// A container instance as ECS describes it (the event's `detail`, or DescribeContainerInstances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    pub status: String,
    pub agent_connected: bool,
    pub running_tasks: Option<i64>,
    pub ec2_instance_id: Option<String>,
    pub agent_version: Option<String>,
}

impl InstanceState {
    /// Alert on it: still ACTIVE, still disconnected, and tasks still run there (or ECS did not say).
    pub fn still_stranded(&self) -> Result<(), String> {
        if self.agent_connected {
            return Err("the agent reconnected within the grace period".into());
        }
        if self.status != "ACTIVE" {
            return Err(format!("the instance is {} now, not ACTIVE", self.status));
        }
        match self.running_tasks {
            Some(0) => Err("no task runs on the instance".into()),
            _ => Ok(()),
        }
    }
}

/// The agent-disconnected problem, `grace` after the disconnect when it was looked at again.
pub fn agent_problem(subject: Subject, instance: &InstanceState, grace: Option<u64>) -> Problem {
    let tasks = match instance.running_tasks {
        Some(1) => " while 1 task runs there".to_string(),
        Some(n) => format!(" while {n} tasks run there"),
        None => String::new(),
    };
    let lasted = grace.map(|s| format!(" and was still disconnected {s} s later")).unwrap_or_default();
    let mut details = Vec::new();
    if let Some(ec2) = &instance.ec2_instance_id {
        details.push(("EC2 instance", ec2.clone()));
    }
    if let Some(version) = &instance.agent_version {
        details.push(("Agent version", version.clone()));
    }
    let mut evidence = vec![format!("agentConnected: false, status: {}", instance.status)];
    if let Some(n) = instance.running_tasks {
        evidence.push(format!("runningTasksCount: {n}"));
    }
    Problem {
        kind: Kind::AgentDisconnected,
        summary: format!("The ECS agent on {} disconnected{lasted}{tasks}.", subject.label()),
        subject,
        hint: Kind::AgentDisconnected.hint(),
        fact: instance.ec2_instance_id.clone(),
        details,
        evidence,
        at: None,
        task_arn: None,
        deployment_id: None,
        container_instance_arn: None,
    }
}

/// `name: value` for each field the event has, verbatim (cut to one line by the renderers).
fn evidence(detail: &Value, fields: &[&str]) -> Vec<String> {
    fields.iter().filter_map(|field| text(detail, field).map(|value| format!("{field}: {value}"))).collect()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

mod placement;

pub use placement::placement_reason;

#[cfg(test)]
#[path = "service_event_tests.rs"]
mod tests;
