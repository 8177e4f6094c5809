//! The drain's decisions, as pure functions of what was observed and the clock: whether to drain
//! the container instance at all ([`begin`]), then each turn of the wait loop ([`decide`]):
//! keep waiting, stop standalone tasks, hand over to the next run (with a heartbeat), or complete;
//! and the reads a look makes, within the API's page and batch limits ([`task_batches`]).

use std::collections::HashSet;
use std::time::Duration;

use crate::config::{Config, LifecycleResult, StandalonePolicy};

/// The API's limits, in the words of the ECS API reference
/// (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Operations.html>, each action's
/// request parameters). `ListTasks`, `ListContainerInstances`, `ListClusters` `maxResults`: "This
/// value can be between 1 and 100".
pub const PAGE_SIZE: i32 = 100;
/// `DescribeTasks` `tasks`: "A list of up to 100 task IDs or full ARN entries".
pub const DESCRIBE_TASKS_MAX: usize = 100;
/// `DescribeServices` `services`: "You may specify up to 10 services to describe in a single operation".
pub const DESCRIBE_SERVICES_MAX: usize = 10;
/// `DescribeContainerInstances` `containerInstances`: "A list of up to 100 container instance IDs
/// or full Amazon Resource Name (ARN) entries".
pub const DESCRIBE_CONTAINER_INSTANCES_MAX: usize = 100;

/// One look's `DescribeTasks` calls: the listed tasks, less those an earlier look of this run saw
/// STOPPED (a task never leaves STOPPED; ECS lists it for about an hour after), in batches of
/// [`DESCRIBE_TASKS_MAX`].
pub fn task_batches(listed: &[String], stopped: &HashSet<String>) -> Vec<Vec<String>> {
    let left: Vec<String> = listed.iter().filter(|arn| !stopped.contains(*arn)).cloned().collect();
    left.chunks(DESCRIBE_TASKS_MAX).map(<[String]>::to_vec).collect()
}

/// The `DescribeServices` calls for the services named, in batches of [`DESCRIBE_SERVICES_MAX`].
pub fn service_batches(names: &[String]) -> Vec<Vec<String>> {
    names.chunks(DESCRIBE_SERVICES_MAX).map(<[String]>::to_vec).collect()
}

/// What draining does with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// A replica-service task: ECS replaces it elsewhere, then stops it here.
    Service,
    /// A daemon-service task: it stops last, on its own; it does not hold the drain.
    Daemon,
    /// Started by RunTask/StartTask: ECS never moves it.
    Standalone,
}

/// One task on the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    pub arn: String,
    pub kind: TaskKind,
    /// `group`: `service:NAME` or `family:NAME`, for the log.
    pub group: String,
    pub last_status: String,
    pub desired_status: String,
}

/// Whether the instance's ECS agent is connected (`agentConnected` of DescribeContainerInstances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Connected,
    /// "An instance with an agent that may be unhealthy or stopped" (API reference, ContainerInstance
    /// `agentConnected`). It is the agent that reports a task's change to STOPPED
    /// (SubmitTaskStateChange; developer guide, "Amazon ECS task state change events"), so a task
    /// ECS has asked to stop there never reads `lastStatus` STOPPED. Typical of the impaired
    /// instances Auto Scaling replaces.
    Disconnected,
}

impl TaskState {
    /// A task still stopping still serves connections: only STOPPED has moved. On an instance
    /// whose agent is disconnected, a task ECS has asked to stop (`desiredStatus` STOPPED) has
    /// moved as far as it ever will: ECS has started its replacement, and its STOPPED never comes.
    pub fn holds_the_drain(&self, agent: Agent) -> bool {
        self.last_status != "STOPPED" && self.kind != TaskKind::Daemon && !self.unreported(agent)
    }

    /// Asked to stop on an instance whose agent can never report that it did.
    fn unreported(&self, agent: Agent) -> bool {
        agent == Agent::Disconnected
            && self.desired_status == "STOPPED"
            && self.last_status != "STOPPED"
            && self.kind != TaskKind::Daemon
    }
}

/// The agent as the drain treats it. The agent "disconnects and reconnects several times per hour
/// as a part of its normal operation" (developer guide, "Amazon ECS container instance state
/// change events"): one look that reads it disconnected proves nothing, and treating a healthy
/// instance as impaired would cut tasks still stopping. `disconnected_for`: since the first look
/// of this run that read it disconnected, if every look since has; it counts once a second look
/// at least a poll interval later still reads it so.
pub fn agent(disconnected_for: Option<Duration>, poll_interval: Duration) -> Agent {
    match disconnected_for {
        Some(time) if time >= poll_interval => Agent::Disconnected,
        _ => Agent::Connected,
    }
}

/// What to do with the container instance, before any wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// ACTIVE: set it DRAINING, then wait.
    SetDraining,
    /// DRAINING already (an earlier run, or someone else): wait.
    Wait,
    /// Nothing to drain: complete the lifecycle action at once, saying why.
    Complete(String),
}

/// `status`: the container instance's `status`, `None` if the EC2 instance is not one.
pub fn begin(status: Option<&str>) -> Begin {
    match status {
        None => Begin::Complete("not an ECS container instance".into()),
        Some("ACTIVE") => Begin::SetDraining,
        Some("DRAINING") => Begin::Wait,
        // UpdateContainerInstancesState: "A container instance can't be changed to DRAINING until it
        // has reached an ACTIVE status. If the instance is in any other status, an error will be
        // received" (API reference, UpdateContainerInstancesState; its `status` parameter: "If a
        // container instance is in REGISTERING, DEREGISTERING, or REGISTRATION_FAILED state you can
        // describe the container instance but can't update the container instance state"). The page
        // names no error code. REGISTERING is the trunk ENI being attached (awsvpcTrunking), and
        // "no task can be placed on it during that time" (aws/amazon-ecs-agent#2010): nothing to move.
        Some("REGISTERING") => Begin::Complete(
            "container instance is REGISTERING: ECS places no task on it before it is ACTIVE, and refuses to set it DRAINING until then".into(),
        ),
        // DEREGISTERING, REGISTRATION_FAILED, INACTIVE: leaving or never joined the cluster.
        Some(other) => Begin::Complete(format!("container instance is {other}")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Complete {
        result: LifecycleResult,
        why: String,
    },
    /// The maximum drain time is reached: complete with the configured result, naming what still runs.
    GiveUp {
        result: LifecycleResult,
        why: String,
    },
    StopStandalone(Vec<String>),
    Wait(Duration),
    /// Record a heartbeat and queue the drain for the next run.
    HandOver,
}

/// Below this much time left, a run must hand over now: the heartbeat and the queue message
/// (or the completion) still have to fit, with the SDK's first retries of a throttled call. A
/// run's throttled calls, their SDK retries included, end this much before its deadline
/// ([`crate::pacing::Pace::until`]).
pub const HANDOVER_MARGIN: Duration = Duration::from_secs(5);

/// `drained_for`: since the first run started. `time_left`: before this run's deadline.
pub fn decide(agent: Agent, tasks: &[TaskState], drained_for: Duration, time_left: Duration, config: &Config) -> Step {
    let holding: Vec<&TaskState> = tasks.iter().filter(|t| t.holds_the_drain(agent)).collect();
    if holding.is_empty() {
        let daemons = tasks.iter().filter(|t| t.kind == TaskKind::Daemon && t.last_status != "STOPPED").count();
        let unreported: Vec<&str> = tasks.iter().filter(|t| t.unreported(agent)).map(|t| t.arn.as_str()).collect();
        let mut why = match unreported.len() {
            0 => "every task has stopped".to_string(),
            n => format!(
                "the agent is disconnected, so {n} task(s) ECS has asked to stop (desiredStatus STOPPED) are not waited for, as it can never report them STOPPED ({}); every other task has stopped",
                unreported.join(", ")
            ),
        };
        if daemons > 0 {
            why.push_str(&format!(" but {daemons} daemon task(s), which stop with the instance"));
        }
        return Step::Complete { result: LifecycleResult::Continue, why };
    }
    if drained_for >= config.max_drain {
        let still: Vec<String> =
            holding.iter().map(|t| format!("{} ({}, {})", t.arn, t.group, t.last_status)).collect();
        let why = format!(
            "the maximum drain time ({} s) is reached; still running: {}",
            config.max_drain.as_secs(),
            still.join(", ")
        );
        return Step::GiveUp { result: config.on_max_drain, why };
    }
    if let StandalonePolicy::StopAfter(grace) = config.standalone
        && drained_for >= grace
    {
        let to_stop: Vec<String> = holding
            .iter()
            .filter(|t| t.kind == TaskKind::Standalone && t.desired_status != "STOPPED")
            .map(|t| t.arn.clone())
            .collect();
        if !to_stop.is_empty() {
            return Step::StopStandalone(to_stop);
        }
    }
    if time_left >= config.poll_interval + HANDOVER_MARGIN { Step::Wait(config.poll_interval) } else { Step::HandOver }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskKind::*;

    fn config(standalone: StandalonePolicy) -> Config {
        Config::sample(standalone)
    }

    fn task(name: &str, kind: TaskKind, last: &str, desired: &str) -> TaskState {
        let group = match kind {
            Standalone => format!("family:{name}"),
            _ => format!("service:{name}"),
        };
        TaskState {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{name}"),
            kind,
            group,
            last_status: last.into(),
            desired_status: desired.into(),
        }
    }

    /// (name, agent, tasks, drained for s, time left s, config, expected)
    struct Case<'a>(&'a str, Agent, Vec<TaskState>, u64, u64, &'a Config, Step);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn table() {
        use Agent::{Connected as On, Disconnected as Off};
        let wait = config(StandalonePolicy::Wait);
        let stop = config(StandalonePolicy::StopAfter(secs(300)));
        let api_running = task("api", Service, "RUNNING", "RUNNING");
        let api_stopping = task("api", Service, "STOPPING", "STOPPED");
        let api_stopped = task("api", Service, "STOPPED", "STOPPED");
        // Asked to stop by draining; the agent never said it did.
        let api_asked = task("api", Service, "RUNNING", "STOPPED");
        let web_stopping = task("web", Service, "STOPPING", "STOPPED");
        let agent = task("agent", Daemon, "RUNNING", "RUNNING");
        let batch = task("batch", Standalone, "RUNNING", "RUNNING");
        let batch_stopping = task("batch", Standalone, "DEPROVISIONING", "STOPPED");
        let complete = |why: &str| Step::Complete { result: LifecycleResult::Continue, why: why.into() };
        // The reason when tasks asked to stop on a disconnected agent are all that is left.
        let unreported = |arns: &[&str]| {
            format!(
                "the agent is disconnected, so {} task(s) ECS has asked to stop (desiredStatus STOPPED) are not waited for, as it can never report them STOPPED ({}); every other task has stopped",
                arns.len(),
                arns.join(", ")
            )
        };
        let cases: Vec<Case<'_>> = vec![
            Case("no tasks", On, vec![], 0, 60, &wait, complete("every task has stopped")),
            Case("all stopped", On, vec![api_stopped.clone()], 0, 60, &wait, complete("every task has stopped")),
            Case(
                "a daemon does not hold",
                On,
                vec![api_stopped.clone(), agent.clone()],
                0,
                60,
                &wait,
                complete("every task has stopped but 1 daemon task(s), which stop with the instance"),
            ),
            Case("running: wait", On, vec![api_running.clone()], 0, 60, &wait, Step::Wait(secs(10))),
            Case("stopping still holds", On, vec![api_stopping.clone()], 0, 60, &wait, Step::Wait(secs(10))),
            Case(
                "asked to stop, agent connected: wait for STOPPED",
                On,
                vec![api_asked.clone()],
                0,
                60,
                &wait,
                Step::Wait(secs(10)),
            ),
            Case(
                "asked to stop, agent disconnected: not waited for",
                Off,
                vec![api_asked.clone(), web_stopping.clone(), api_stopped.clone(), agent.clone()],
                0,
                60,
                &wait,
                complete(&format!(
                    "{} but 1 daemon task(s), which stop with the instance",
                    unreported(&[&api_asked.arn, &web_stopping.arn])
                )),
            ),
            Case(
                "agent disconnected: desired RUNNING still holds",
                Off,
                vec![api_running.clone(), api_asked.clone()],
                0,
                60,
                &wait,
                Step::Wait(secs(10)),
            ),
            Case(
                "agent disconnected, nothing asked to stop",
                Off,
                vec![api_stopped.clone()],
                0,
                60,
                &wait,
                complete("every task has stopped"),
            ),
            Case(
                "agent disconnected: standalone asked to stop after grace",
                Off,
                vec![batch_stopping.clone()],
                400,
                60,
                &stop,
                complete(&unreported(&[&batch_stopping.arn])),
            ),
            Case("no time for a poll: hand over", On, vec![api_running.clone()], 0, 14, &wait, Step::HandOver),
            Case("just time for a poll", On, vec![api_running.clone()], 0, 15, &wait, Step::Wait(secs(10))),
            Case("standalone, wait policy", On, vec![batch.clone()], 3599, 60, &wait, Step::Wait(secs(10))),
            Case("standalone within grace", On, vec![batch.clone()], 299, 60, &stop, Step::Wait(secs(10))),
            Case(
                "standalone after grace",
                On,
                vec![batch.clone(), api_running.clone()],
                300,
                60,
                &stop,
                Step::StopStandalone(vec![batch.arn.clone()]),
            ),
            Case("already asked to stop", On, vec![batch_stopping.clone()], 400, 60, &stop, Step::Wait(secs(10))),
        ];
        for Case(name, agent, tasks, drained, left, config, expected) in cases {
            assert_eq!(decide(agent, &tasks, secs(drained), secs(left), config), expected, "{name}");
        }
    }

    #[test]
    fn a_look_at_500_tasks_of_10_services_is_5_describe_tasks_and_1_describe_services() {
        let arns: Vec<String> =
            (0..500).map(|i| format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{i:032x}")).collect();
        let services: Vec<String> = (0..10).map(|i| format!("svc-{i}")).collect();
        let batches = task_batches(&arns, &HashSet::new());
        assert_eq!(batches.len(), 5);
        assert!(batches.iter().all(|b| b.len() == DESCRIBE_TASKS_MAX));
        assert_eq!(batches.concat(), arns, "every task once, in order");
        assert_eq!(service_batches(&services), vec![services.clone()]);

        let cases = [(0, 0), (1, 1), (100, 1), (101, 2), (499, 5), (501, 6)];
        for (tasks, calls) in cases {
            assert_eq!(
                task_batches(&arns.iter().cycle().take(tasks).cloned().collect::<Vec<_>>(), &HashSet::new()).len(),
                calls,
                "{tasks} tasks"
            );
        }
        let eleven: Vec<String> = (0..11).map(|i| format!("svc-{i}")).collect();
        assert_eq!(service_batches(&eleven).iter().map(Vec::len).collect::<Vec<_>>(), [10, 1]);
        assert!(service_batches(&[]).is_empty());

        // Tasks seen STOPPED by an earlier look are not described again.
        let stopped: HashSet<String> = arns[..250].iter().cloned().collect();
        let batches = task_batches(&arns, &stopped);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        assert!(task_batches(&arns, &arns.iter().cloned().collect()).is_empty());
    }

    #[test]
    fn agent_table() {
        let cases = [
            (None, Agent::Connected),
            (Some(0), Agent::Connected),
            (Some(9_999), Agent::Connected),
            (Some(10_000), Agent::Disconnected),
            (Some(60_000), Agent::Disconnected),
        ];
        for (ms, expected) in cases {
            assert_eq!(agent(ms.map(Duration::from_millis), secs(10)), expected, "{ms:?}");
        }
    }

    #[test]
    fn begin_table() {
        let complete = |why: &str| Begin::Complete(why.into());
        let cases = [
            (None, complete("not an ECS container instance")),
            (Some("ACTIVE"), Begin::SetDraining),
            (Some("DRAINING"), Begin::Wait),
            (
                Some("REGISTERING"),
                complete(
                    "container instance is REGISTERING: ECS places no task on it before it is ACTIVE, and refuses to set it DRAINING until then",
                ),
            ),
            (Some("REGISTRATION_FAILED"), complete("container instance is REGISTRATION_FAILED")),
            (Some("DEREGISTERING"), complete("container instance is DEREGISTERING")),
            (Some("INACTIVE"), complete("container instance is INACTIVE")),
        ];
        for (status, expected) in cases {
            assert_eq!(begin(status), expected, "{status:?}");
        }
    }

    #[test]
    fn the_maximum_ends_the_wait_with_the_configured_result_and_names_what_runs() {
        let tasks = [task("api", Service, "RUNNING", "RUNNING"), task("agent", Daemon, "RUNNING", "RUNNING")];
        let Step::GiveUp { result, why } =
            decide(Agent::Connected, &tasks, secs(3600), secs(60), &config(StandalonePolicy::Wait))
        else {
            panic!("give up")
        };
        assert_eq!(result, LifecycleResult::Abandon);
        assert!(
            why.contains("maximum drain time (3600 s)") && why.contains("task/prod/api (service:api, RUNNING)"),
            "{why}"
        );
        assert!(!why.contains("agent"), "daemons are not what held it: {why}");
    }
}
