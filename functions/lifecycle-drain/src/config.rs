//! The function's configuration: environment variables, read once at cold start. A bad value is
//! reported with the variable's name.

use std::time::Duration;

pub use shared::env::ConfigError;
use shared::env::Env;

pub const HOOK_NAME: &str = "DRAIN_HOOK_NAME";
pub const CLUSTER: &str = "DRAIN_CLUSTER";
pub const QUEUE_URL: &str = "CONTINUATION_QUEUE_URL";
pub const POLL_INTERVAL_SECONDS: &str = "POLL_INTERVAL_SECONDS";
pub const HANDOVER_DELAY_SECONDS: &str = "HANDOVER_DELAY_SECONDS";
pub const MAX_DRAIN_SECONDS: &str = "MAX_DRAIN_SECONDS";
pub const ON_MAX_DRAIN: &str = "ON_MAX_DRAIN";
pub const STANDALONE_TASKS: &str = "STANDALONE_TASKS";
pub const STANDALONE_GRACE_SECONDS: &str = "STANDALONE_GRACE_SECONDS";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The hooks this function owns: an exact name, or a prefix (`ecs-drain*`).
    pub hook: HookName,
    /// Where to look for the instance when the hook's metadata names no cluster; `None`: every cluster.
    pub cluster: Option<String>,
    /// The SQS queue that carries a drain to the function's next run.
    pub queue_url: String,
    pub poll_interval: Duration,
    /// How long a handed-over drain waits in the queue before the next run.
    pub handover_delay: Duration,
    pub max_drain: Duration,
    pub on_max_drain: LifecycleResult,
    pub standalone: StandalonePolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookName {
    Exact(String),
    Prefix(String),
}

impl HookName {
    pub fn owns(&self, hook: &str) -> bool {
        match self {
            HookName::Exact(name) => hook == name,
            HookName::Prefix(prefix) => hook.starts_with(prefix.as_str()),
        }
    }
}

impl std::fmt::Display for HookName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookName::Exact(name) => write!(f, "{name}"),
            HookName::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// `CompleteLifecycleAction`'s `LifecycleActionResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleResult {
    Continue,
    Abandon,
}

impl LifecycleResult {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleResult::Continue => "CONTINUE",
            LifecycleResult::Abandon => "ABANDON",
        }
    }
}

/// Tasks started by `RunTask`/`StartTask`: ECS never moves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandalonePolicy {
    /// Wait for them to end on their own (up to the maximum drain time).
    Wait,
    /// Stop them once the drain has run this long.
    StopAfter(Duration),
}

impl Config {
    /// The defaults, hook `ecs-drain`, a queue in us-east-1 and `standalone`: for the tests and
    /// the benches, which need a configuration without an environment.
    pub fn sample(standalone: StandalonePolicy) -> Self {
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

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(shared::env::process)
    }

    /// `lookup` answers a variable's value; blank counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let hook_name = env.required(HOOK_NAME, "name the lifecycle hook to drain for (or a prefix ending in `*`)")?;
        let hook = match hook_name.strip_suffix('*') {
            Some("") => {
                return Err(ConfigError::bad(
                    HOOK_NAME,
                    "is only `*`: give a prefix, so other hooks (ECS's own among them) stay untouched",
                ));
            }
            Some(prefix) => HookName::Prefix(prefix.to_string()),
            None => HookName::Exact(hook_name),
        };
        let queue_url = env.required(QUEUE_URL, "the SQS queue that carries a drain to the next run")?;
        if !queue_url.starts_with("https://") && !queue_url.starts_with("http://") {
            return Err(ConfigError::bad(QUEUE_URL, format!("is not a queue URL: `{queue_url}`")));
        }
        let on_max_drain = match env.optional(ON_MAX_DRAIN).map(|v| v.to_ascii_uppercase()).as_deref() {
            None | Some("CONTINUE") => LifecycleResult::Continue,
            Some("ABANDON") => LifecycleResult::Abandon,
            Some(other) => {
                return Err(ConfigError::bad(ON_MAX_DRAIN, format!("must be CONTINUE or ABANDON, not `{other}`")));
            }
        };
        let standalone = match env.optional(STANDALONE_TASKS).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("wait") => StandalonePolicy::Wait,
            Some("stop") => StandalonePolicy::StopAfter(env.seconds(STANDALONE_GRACE_SECONDS, 300, 0..=172_800)?),
            Some(other) => {
                return Err(ConfigError::bad(STANDALONE_TASKS, format!("must be `wait` or `stop`, not `{other}`")));
            }
        };
        Ok(Config {
            hook,
            cluster: env.optional(CLUSTER),
            queue_url,
            poll_interval: env.seconds(POLL_INTERVAL_SECONDS, 10, 1..=300)?,
            // SQS allows at most 900 s of delay.
            handover_delay: env.seconds(HANDOVER_DELAY_SECONDS, 30, 0..=900)?,
            // A lifecycle action waits at most 48 h.
            max_drain: env.seconds(MAX_DRAIN_SECONDS, 7200, 1..=172_800)?,
            on_max_drain,
            standalone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/ecs-plumbing-drain";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(shared::env::pairs(vars))
    }

    #[test]
    fn defaults_and_every_setting() {
        let c = config(&[(HOOK_NAME, "ecs-drain"), (QUEUE_URL, QUEUE)]).unwrap();
        assert_eq!(c.hook, HookName::Exact("ecs-drain".into()));
        assert!(
            c.hook.owns("ecs-drain")
                && !c.hook.owns("ecs-drain-2")
                && !c.hook.owns("ecs-managed-draining-termination-hook")
        );
        assert_eq!(
            (c.poll_interval, c.handover_delay, c.max_drain),
            (Duration::from_secs(10), Duration::from_secs(30), Duration::from_secs(7200))
        );
        assert_eq!(
            (c.on_max_drain, c.standalone, c.cluster),
            (LifecycleResult::Continue, StandalonePolicy::Wait, None)
        );

        let c = config(&[
            (HOOK_NAME, "ecs-drain*"),
            (QUEUE_URL, QUEUE),
            (CLUSTER, "prod"),
            (POLL_INTERVAL_SECONDS, "2"),
            (HANDOVER_DELAY_SECONDS, "0"),
            (MAX_DRAIN_SECONDS, "600"),
            (ON_MAX_DRAIN, "abandon"),
            (STANDALONE_TASKS, "stop"),
            (STANDALONE_GRACE_SECONDS, "60"),
        ])
        .unwrap();
        assert!(c.hook.owns("ecs-drain-prod") && !c.hook.owns("other"));
        assert_eq!(c.standalone, StandalonePolicy::StopAfter(Duration::from_secs(60)));
        assert_eq!((c.on_max_drain, c.cluster.as_deref()), (LifecycleResult::Abandon, Some("prod")));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let base = [(HOOK_NAME, "ecs-drain"), (QUEUE_URL, QUEUE)];
        let with = |extra: (&'static str, &'static str)| {
            let mut vars: Vec<(&str, &str)> = base.iter().filter(|(n, _)| *n != extra.0).copied().collect();
            vars.push(extra);
            vars
        };
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![(QUEUE_URL, QUEUE)], "DRAIN_HOOK_NAME is not set"),
            (with((HOOK_NAME, "*")), "DRAIN_HOOK_NAME is only `*`"),
            (vec![(HOOK_NAME, "ecs-drain")], "CONTINUATION_QUEUE_URL is not set"),
            (with((QUEUE_URL, "ecs-plumbing-drain")), "CONTINUATION_QUEUE_URL is not a queue URL"),
            (with((POLL_INTERVAL_SECONDS, "0")), "POLL_INTERVAL_SECONDS must be whole seconds from 1 to 300"),
            (with((HANDOVER_DELAY_SECONDS, "901")), "HANDOVER_DELAY_SECONDS must be whole seconds from 0 to 900"),
            (with((MAX_DRAIN_SECONDS, "2h")), "MAX_DRAIN_SECONDS must be whole seconds"),
            (with((ON_MAX_DRAIN, "TERMINATE")), "ON_MAX_DRAIN must be CONTINUE or ABANDON"),
            (with((STANDALONE_TASKS, "kill")), "STANDALONE_TASKS must be `wait` or `stop`"),
        ];
        for (vars, expected) in cases {
            let message = config(&vars).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.starts_with("bad configuration: ") && message.contains(expected), "{vars:?}: {message}");
        }
    }
}
