//! The wait loop's decisions, as a pure function of what was observed and the clock: keep
//! waiting, stop standalone tasks, hand over to the next run (with a heartbeat), or complete.

use std::time::Duration;

use crate::config::{Config, LifecycleResult, StandalonePolicy};

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

impl TaskState {
    /// A task still stopping still serves connections: only STOPPED has moved.
    fn holds_the_drain(&self) -> bool {
        self.last_status != "STOPPED" && self.kind != TaskKind::Daemon
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
/// (or the completion) still have to fit, with the SDK's retries of a throttled call (about 3 s).
pub const HANDOVER_MARGIN: Duration = Duration::from_secs(5);

/// `drained_for`: since the first run started. `time_left`: before this run's deadline.
pub fn decide(tasks: &[TaskState], drained_for: Duration, time_left: Duration, config: &Config) -> Step {
    let holding: Vec<&TaskState> = tasks.iter().filter(|t| t.holds_the_drain()).collect();
    if holding.is_empty() {
        let daemons = tasks.iter().filter(|t| t.kind == TaskKind::Daemon && t.last_status != "STOPPED").count();
        let why = match daemons {
            0 => "every task has stopped".to_string(),
            n => format!("every task has stopped but {n} daemon task(s), which stop with the instance"),
        };
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
    use crate::config::HookName;
    use TaskKind::*;

    fn config(standalone: StandalonePolicy) -> Config {
        Config {
            hook: HookName::Exact("ecs-drain".into()),
            cluster: None,
            queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/drain".into(),
            poll_interval: Duration::from_secs(10),
            handover_delay: Duration::from_secs(30),
            max_drain: Duration::from_secs(3600),
            on_max_drain: LifecycleResult::Abandon,
            standalone,
        }
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

    struct Case<'a>(&'a str, Vec<TaskState>, u64, u64, &'a Config, Step);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn table() {
        let wait = config(StandalonePolicy::Wait);
        let stop = config(StandalonePolicy::StopAfter(secs(300)));
        let api_running = task("api", Service, "RUNNING", "RUNNING");
        let api_stopping = task("api", Service, "STOPPING", "STOPPED");
        let api_stopped = task("api", Service, "STOPPED", "STOPPED");
        let agent = task("agent", Daemon, "RUNNING", "RUNNING");
        let batch = task("batch", Standalone, "RUNNING", "RUNNING");
        let batch_stopping = task("batch", Standalone, "DEPROVISIONING", "STOPPED");
        let complete = |why: &str| Step::Complete { result: LifecycleResult::Continue, why: why.into() };
        // (name, tasks, drained for s, time left s, config, expected)
        let cases: Vec<Case> = vec![
            Case("no tasks", vec![], 0, 60, &wait, complete("every task has stopped")),
            Case("all stopped", vec![api_stopped.clone()], 0, 60, &wait, complete("every task has stopped")),
            Case(
                "a daemon does not hold",
                vec![api_stopped.clone(), agent.clone()],
                0,
                60,
                &wait,
                complete("every task has stopped but 1 daemon task(s), which stop with the instance"),
            ),
            Case("running: wait", vec![api_running.clone()], 0, 60, &wait, Step::Wait(secs(10))),
            Case("stopping still holds", vec![api_stopping.clone()], 0, 60, &wait, Step::Wait(secs(10))),
            Case("no time for a poll: hand over", vec![api_running.clone()], 0, 14, &wait, Step::HandOver),
            Case("just time for a poll", vec![api_running.clone()], 0, 15, &wait, Step::Wait(secs(10))),
            Case("standalone, wait policy", vec![batch.clone()], 3599, 60, &wait, Step::Wait(secs(10))),
            Case("standalone within grace", vec![batch.clone()], 299, 60, &stop, Step::Wait(secs(10))),
            Case(
                "standalone after grace",
                vec![batch.clone(), api_running.clone()],
                300,
                60,
                &stop,
                Step::StopStandalone(vec![batch.arn.clone()]),
            ),
            Case("already asked to stop", vec![batch_stopping.clone()], 400, 60, &stop, Step::Wait(secs(10))),
        ];
        for Case(name, tasks, drained, left, config, expected) in cases {
            assert_eq!(decide(&tasks, secs(drained), secs(left), config), expected, "{name}");
        }
    }

    #[test]
    fn the_maximum_ends_the_wait_with_the_configured_result_and_names_what_runs() {
        let tasks = [task("api", Service, "RUNNING", "RUNNING"), task("agent", Daemon, "RUNNING", "RUNNING")];
        let Step::GiveUp { result, why } = decide(&tasks, secs(3600), secs(60), &config(StandalonePolicy::Wait)) else {
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
