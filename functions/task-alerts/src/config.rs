//! The function's configuration: environment variables, read once at cold start. A bad value is
//! reported with the variable's name, so the first invocation fails with a reason a user can act on.

use std::time::Duration;

pub use shared::env::ConfigError;
use shared::env::Env;

use crate::accounts::{AccessPortal, AccountNames, is_account_id};
use crate::diagnosis::Category;
use crate::message::AlertKind;
use crate::webhook::WebhookFormat;

pub const TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const TOPIC_KMS_KEY_ARN: &str = "ALERT_TOPIC_KMS_KEY_ARN";
pub const SNS_MESSAGE_FORMAT: &str = "SNS_MESSAGE_FORMAT";
pub const WEBHOOK_SECRET_ARN: &str = "WEBHOOK_SECRET_ARN";
pub const WEBHOOK_FORMAT: &str = "WEBHOOK_FORMAT";
pub const IGNORE_CATEGORIES: &str = "IGNORE_CATEGORIES";
pub const CLUSTERS: &str = "CLUSTERS";
pub const SECRET_TTL_SECONDS: &str = "SECRET_TTL_SECONDS";
pub const REGION: &str = "AWS_REGION";
pub const SUPPRESSION_TABLE: &str = "SUPPRESSION_TABLE";
pub const SUPPRESSION_WINDOW_SECONDS: &str = "SUPPRESSION_WINDOW_SECONDS";
pub const LOG_LINES: &str = "LOG_LINES";
pub const AGENT_DISCONNECT_GRACE_SECONDS: &str = "AGENT_DISCONNECT_GRACE_SECONDS";
pub const LOOK_AGAIN_QUEUE_URL: &str = "LOOK_AGAIN_QUEUE_URL";
pub const ACCOUNT_NAMES: &str = "ACCOUNT_NAMES";
pub const ACCESS_PORTAL_URL: &str = "ACCESS_PORTAL_URL";
pub const ACCESS_PORTAL_ROLE: &str = "ACCESS_PORTAL_ROLE";
pub const STACK_ACCOUNT_ID: &str = "STACK_ACCOUNT_ID";

const DEFAULT_SECRET_TTL_SECONDS: u64 = 300;
const MAX_SECRET_TTL_SECONDS: u64 = 86_400;
const DEFAULT_WINDOW_SECONDS: u64 = 900;
const DEFAULT_LOG_LINES: u64 = 20;
const MAX_LOG_LINES: u64 = 100;
const DEFAULT_AGENT_GRACE_SECONDS: u64 = 300;
/// SQS delays a message by at most 15 minutes.
const MAX_AGENT_GRACE_SECONDS: u64 = 900;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub topic_arn: Option<String>,
    /// The customer-managed key the stack's `AlertTopicKmsKeyArn` grants the role (to name it in
    /// a failure's fix); `None`: not set.
    pub topic_kms_key: Option<String>,
    pub sns_format: SnsFormat,
    /// The secret's ARN or name. Its value is the webhook URL, or JSON `{"url": …, "format": …}`.
    pub webhook_secret: Option<String>,
    /// The format of a secret that holds a bare URL; `None`: guess from the URL's host.
    pub webhook_format: Option<WebhookFormat>,
    /// Stop categories and service-level kinds not alerted on.
    pub ignored: Vec<AlertKind>,
    /// Cluster names to watch; empty: every cluster.
    pub clusters: Vec<String>,
    pub secret_ttl: Duration,
    /// For the console links.
    pub region: String,
    /// The DynamoDB table that remembers alerts across execution environments; `None`: no
    /// suppression of duplicates or storms.
    pub suppression_table: Option<String>,
    /// One alert per (cluster, service, category) per window; zero: only duplicates are suppressed.
    pub suppression_window: Duration,
    /// How many of the failed container's last `awslogs` lines an alert carries; zero: none.
    pub log_lines: usize,
    /// How long an agent must stay disconnected before it is alerted on; zero: at once.
    pub agent_grace: Duration,
    /// The queue that brings a disconnected agent back for its second look; `None`: disconnects
    /// wait for no second look and are not alerted on (unless the grace is zero).
    pub look_again_queue: Option<String>,
    /// The names shown beside account ids (`Account: 210987654321 (payments-prod)`).
    pub account_names: AccountNames,
    /// The access portal that every console link goes through, into the event's account; `None`:
    /// plain console links.
    pub access_portal: Option<AccessPortal>,
    /// The account the stack runs in (the template sets it to `AWS::AccountId`). The function reads
    /// from AWS in this account only: events forwarded from others get no second look, no
    /// deployment's task definitions and no log lines. `None`: every event counts as this account's.
    ///
    /// An environment variable rather than the account in the Lambda context's
    /// `invoked_function_arn`: it is known once at cold start, tested with the rest of the
    /// configuration, and the Lambda emulator's context names a fixed account of its own
    /// (`012345678912`), not the one the function acts in.
    pub stack_account: Option<String>,
}

/// What goes on the SNS topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsFormat {
    /// The default, `per-protocol`: one publish with `MessageStructure` `json` carries both, the plain
    /// text for email, SMS and every other protocol and the Amazon Q Developer notification for `https`
    /// subscribers (Amazon Q Developer's own), so one topic serves people and chat alike.
    PerProtocol,
    /// A subject and a plain-text body, for email and SMS subscribers.
    Text,
    /// The custom-notification JSON of Amazon Q Developer in chat applications (formerly AWS Chatbot).
    AmazonQ,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(shared::env::process)
    }

    /// `lookup` answers a variable's value; blank counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let bad = ConfigError::bad;

        let topic_arn = env.optional(TOPIC_ARN);
        if let Some(arn) = &topic_arn
            && !is_arn_of(arn, "sns")
        {
            return Err(bad(
                TOPIC_ARN,
                format!("is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>): `{arn}`"),
            ));
        }
        let topic_kms_key = env.optional(TOPIC_KMS_KEY_ARN);
        if let Some(key) = &topic_kms_key
            && crate::kms::key_arn_in(key) != Some(key.as_str())
        {
            return Err(bad(
                TOPIC_KMS_KEY_ARN,
                format!("is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; not an alias): `{key}`"),
            ));
        }
        let webhook_secret = env.optional(WEBHOOK_SECRET_ARN);
        if let Some(secret) = &webhook_secret
            && !is_secret_id(secret)
        {
            return Err(bad(
                WEBHOOK_SECRET_ARN,
                format!("is neither a Secrets Manager secret ARN nor a secret name: `{secret}`"),
            ));
        }
        if topic_arn.is_none() && webhook_secret.is_none() {
            return Err(ConfigError::Combination(format!(
                "set {TOPIC_ARN} (an SNS topic) or {WEBHOOK_SECRET_ARN} (a secret holding a webhook URL), or both: an alert needs somewhere to go"
            )));
        }
        let sns_format = match env.optional(SNS_MESSAGE_FORMAT).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("per-protocol" | "per_protocol") => SnsFormat::PerProtocol,
            Some("text") => SnsFormat::Text,
            Some("amazon-q" | "amazon_q" | "chatbot") => SnsFormat::AmazonQ,
            Some(other) => {
                let must = "must be `per-protocol`, `text` or `amazon-q`";
                return Err(bad(SNS_MESSAGE_FORMAT, format!("{must}, not `{other}`")));
            }
        };
        let webhook_format = match env.optional(WEBHOOK_FORMAT) {
            None => None,
            Some(v) => Some(v.parse().map_err(|e| bad(WEBHOOK_FORMAT, format!("is wrong: {e}")))?),
        };
        let ignored = match env.as_set(IGNORE_CATEGORIES) {
            None => vec![AlertKind::Stop(Category::ScalingOrDeployment)],
            Some(list) => categories(&list).map_err(|problem| bad(IGNORE_CATEGORIES, problem))?,
        };
        let clusters = env.optional(CLUSTERS).map(|list| cluster_names(&list)).unwrap_or_default();
        let secret_ttl = env.seconds(SECRET_TTL_SECONDS, DEFAULT_SECRET_TTL_SECONDS, 0..=MAX_SECRET_TTL_SECONDS)?;
        let region = env.optional(REGION).unwrap_or_default();
        let suppression_table = env.optional(SUPPRESSION_TABLE);
        let suppression_window = env.seconds(SUPPRESSION_WINDOW_SECONDS, DEFAULT_WINDOW_SECONDS, 0..=86_400)?;
        // A count of lines: at most MAX_LOG_LINES, so the conversion cannot fail.
        let log_lines = env.count(LOG_LINES, DEFAULT_LOG_LINES, 0..=MAX_LOG_LINES)? as usize;
        let account_names = match env.optional(ACCOUNT_NAMES) {
            None => AccountNames::default(),
            Some(list) => AccountNames::parse(&list).map_err(|problem| bad(ACCOUNT_NAMES, problem))?,
        };
        let access_portal = match (env.optional(ACCESS_PORTAL_URL), env.optional(ACCESS_PORTAL_ROLE)) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::Combination(format!(
                    "{ACCESS_PORTAL_ROLE} is set without {ACCESS_PORTAL_URL}: set the access portal's start URL too, or neither"
                )));
            }
            (Some(url), role) => Some(AccessPortal::parse(&url, role.as_deref()).map_err(|(which, problem)| {
                bad(if which == "role" { ACCESS_PORTAL_ROLE } else { ACCESS_PORTAL_URL }, problem)
            })?),
        };
        let stack_account = env.optional(STACK_ACCOUNT_ID);
        if let Some(account) = &stack_account
            && !is_account_id(account)
        {
            return Err(bad(STACK_ACCOUNT_ID, format!("is not a 12-digit account id: `{account}`")));
        }
        Ok(Config {
            topic_arn,
            topic_kms_key,
            sns_format,
            webhook_secret,
            webhook_format,
            ignored,
            clusters,
            secret_ttl,
            region,
            suppression_table,
            suppression_window,
            log_lines,
            agent_grace: env.seconds(
                AGENT_DISCONNECT_GRACE_SECONDS,
                DEFAULT_AGENT_GRACE_SECONDS,
                0..=MAX_AGENT_GRACE_SECONDS,
            )?,
            look_again_queue: env.optional(LOOK_AGAIN_QUEUE_URL),
            account_names,
            access_portal,
            stack_account,
        })
    }

    /// Whether alerts for tasks of `cluster` (a name) are wanted.
    pub fn watches(&self, cluster: &str) -> bool {
        self.clusters.is_empty() || self.clusters.iter().any(|c| c == cluster)
    }
}

/// `a, b`: category ids; blank or `none`: ignore nothing.
fn categories(list: &str) -> Result<Vec<AlertKind>, String> {
    if list.trim().is_empty() || list.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            AlertKind::from_id(c).ok_or_else(|| {
                let known = AlertKind::all_ids();
                format!(
                    "names an unknown category `{c}`: expected some of {} (comma-separated), or `none`",
                    known.join(", ")
                )
            })
        })
        .collect()
}

/// Names or ARNs (`arn:aws:ecs:<region>:<account>:cluster/<name>`), comma-separated, as names.
fn cluster_names(list: &str) -> Vec<String> {
    let name = |c: &str| c.rsplit_once(":cluster/").map_or(c, |(_, name)| name).to_string();
    list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(name).collect()
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>` with a 12-digit account.
fn is_arn_of(arn: &str, service: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, s, region, account, resource]
        if partition.starts_with("aws") && *s == service && !region.is_empty()
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !resource.is_empty())
}

/// A secret ARN, or a name as Secrets Manager allows it (ASCII letters, digits and `/_+=.@-`).
fn is_secret_id(id: &str) -> bool {
    if id.starts_with("arn:") {
        return is_arn_of(id, "secretsmanager") && id.contains(":secret:");
    }
    id.len() <= 512 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ecs-alerts";
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecs-alerts/webhook-AbCdEf";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(shared::env::pairs(vars))
    }

    #[test]
    fn defaults() {
        let c = config(&[(TOPIC_ARN, TOPIC)]).unwrap();
        assert_eq!((c.topic_arn.as_deref(), c.topic_kms_key.as_deref()), (Some(TOPIC), None));
        assert_eq!((c.sns_format, c.webhook_secret.as_deref(), c.webhook_format), (SnsFormat::PerProtocol, None, None));
        for (value, format) in
            [("Per-Protocol", SnsFormat::PerProtocol), ("text", SnsFormat::Text), ("chatbot", SnsFormat::AmazonQ)]
        {
            assert_eq!(
                config(&[(TOPIC_ARN, TOPIC), (SNS_MESSAGE_FORMAT, value)]).unwrap().sns_format,
                format,
                "{value}"
            );
        }
        assert_eq!(
            c.ignored,
            vec![AlertKind::Stop(Category::ScalingOrDeployment)],
            "benign stops are not sent by default"
        );
        assert!(c.clusters.is_empty() && c.watches("any"));
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!((c.suppression_table, c.suppression_window, c.log_lines), (None, Duration::from_secs(900), 20));
        assert_eq!((c.account_names, c.access_portal, c.stack_account), (AccountNames::default(), None, None));
    }

    #[test]
    fn many_accounts() {
        let c = config(&[
            (TOPIC_ARN, TOPIC),
            (ACCOUNT_NAMES, "210987654321=payments-prod, 123456789012=platform"),
            (ACCESS_PORTAL_URL, "https://d-1234567890.awsapps.com/start/"),
            (ACCESS_PORTAL_ROLE, "ReadOnly"),
            (STACK_ACCOUNT_ID, "123456789012"),
        ])
        .unwrap();
        assert_eq!(c.account_names.name("210987654321"), Some("payments-prod"));
        let portal = c.access_portal.unwrap();
        assert_eq!(
            (portal.url.as_str(), portal.role.as_deref()),
            ("https://d-1234567890.awsapps.com/start", Some("ReadOnly"))
        );
        assert_eq!(c.stack_account.as_deref(), Some("123456789012"));
        let without_role = config(&[(TOPIC_ARN, TOPIC), (ACCESS_PORTAL_URL, "https://my-org.awsapps.com/start")]);
        assert_eq!(without_role.unwrap().access_portal.and_then(|p| p.role), None);
    }

    #[test]
    fn every_setting() {
        let c = config(&[
            (WEBHOOK_SECRET_ARN, "ecs-alerts/webhook"),
            (SNS_MESSAGE_FORMAT, "Amazon-Q"),
            (TOPIC_ARN, TOPIC),
            (TOPIC_KMS_KEY_ARN, KEY),
            (WEBHOOK_FORMAT, "teams"),
            (IGNORE_CATEGORIES, " spot_interruption , scaling_or_deployment"),
            (CLUSTERS, "prod, arn:aws:ecs:us-east-1:123456789012:cluster/batch"),
            (SECRET_TTL_SECONDS, "0"),
            (REGION, "eu-west-1"),
            (SUPPRESSION_TABLE, "ecs-plumbing-alerts"),
            (SUPPRESSION_WINDOW_SECONDS, "0"),
            (LOG_LINES, "0"),
        ])
        .unwrap();
        assert_eq!((c.sns_format, c.topic_kms_key.as_deref()), (SnsFormat::AmazonQ, Some(KEY)));
        assert_eq!(c.webhook_format, Some(WebhookFormat::Teams));
        assert_eq!(
            c.ignored,
            vec![AlertKind::Stop(Category::SpotInterruption), AlertKind::Stop(Category::ScalingOrDeployment)]
        );
        assert_eq!(c.clusters, vec!["prod", "batch"]);
        assert!(c.watches("batch") && !c.watches("dev"));
        assert_eq!((c.secret_ttl, c.region.as_str()), (Duration::ZERO, "eu-west-1"));
        assert_eq!(
            (c.suppression_table.as_deref(), c.suppression_window, c.log_lines),
            (Some("ecs-plumbing-alerts"), Duration::ZERO, 0)
        );
        assert_eq!(config(&[(TOPIC_ARN, TOPIC), (IGNORE_CATEGORIES, "")]).unwrap().ignored, vec![]);
        assert_eq!(config(&[(TOPIC_ARN, TOPIC), (IGNORE_CATEGORIES, "none")]).unwrap().ignored, vec![]);
        assert_eq!(config(&[(WEBHOOK_SECRET_ARN, SECRET)]).unwrap().webhook_secret.as_deref(), Some(SECRET));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "set ALERT_TOPIC_ARN"),
            (&[(TOPIC_ARN, "  ")], "set ALERT_TOPIC_ARN"),
            (&[(TOPIC_ARN, "ecs-alerts")], "ALERT_TOPIC_ARN is not an SNS topic ARN"),
            (&[(TOPIC_ARN, "arn:aws:sqs:us-east-1:123456789012:q")], "ALERT_TOPIC_ARN is not an SNS topic ARN"),
            (&[(WEBHOOK_SECRET_ARN, "https://hooks.slack.com/x")], "WEBHOOK_SECRET_ARN is neither"),
            (
                &[(TOPIC_ARN, TOPIC), (TOPIC_KMS_KEY_ARN, "arn:aws:kms:us-east-1:123456789012:alias/ecs-alerts")],
                "ALERT_TOPIC_KMS_KEY_ARN is not a KMS key ARN",
            ),
            (
                &[(TOPIC_ARN, TOPIC), (SNS_MESSAGE_FORMAT, "html")],
                "SNS_MESSAGE_FORMAT must be `per-protocol`, `text` or `amazon-q`",
            ),
            (&[(TOPIC_ARN, TOPIC), (WEBHOOK_FORMAT, "irc")], "WEBHOOK_FORMAT is wrong: unknown webhook format \"irc\""),
            (
                &[(TOPIC_ARN, TOPIC), (WEBHOOK_FORMAT, "chime")],
                "WEBHOOK_FORMAT is wrong: format \"chime\": Amazon Chime ended on 2026-02-20 (AWS ended the service); use slack, teams, discord or generic instead",
            ),
            (&[(TOPIC_ARN, TOPIC), (IGNORE_CATEGORIES, "oom")], "IGNORE_CATEGORIES names an unknown category `oom`"),
            (&[(TOPIC_ARN, TOPIC), (SECRET_TTL_SECONDS, "5m")], "SECRET_TTL_SECONDS must be whole seconds"),
            (&[(TOPIC_ARN, TOPIC), (SECRET_TTL_SECONDS, "86401")], "SECRET_TTL_SECONDS must be whole seconds"),
            (
                &[(TOPIC_ARN, TOPIC), (SUPPRESSION_WINDOW_SECONDS, "15m")],
                "SUPPRESSION_WINDOW_SECONDS must be whole seconds",
            ),
            (&[(TOPIC_ARN, TOPIC), (LOG_LINES, "500")], "LOG_LINES must be a whole number from 0 to 100"),
            (
                &[(TOPIC_ARN, TOPIC), (ACCOUNT_NAMES, "210987654321:payments-prod")],
                "ACCOUNT_NAMES has `210987654321:payments-prod`: expected <12-digit account id>=<name>",
            ),
            (&[(TOPIC_ARN, TOPIC), (ACCOUNT_NAMES, "2109876=x")], "ACCOUNT_NAMES has `2109876=x`: `2109876` is not"),
            (
                &[(TOPIC_ARN, TOPIC), (ACCESS_PORTAL_URL, "d-1234567890.awsapps.com/start")],
                "ACCESS_PORTAL_URL is not an access portal start URL",
            ),
            (
                &[
                    (TOPIC_ARN, TOPIC),
                    (ACCESS_PORTAL_URL, "https://d-1234567890.awsapps.com/start"),
                    (ACCESS_PORTAL_ROLE, "Read Only"),
                ],
                "ACCESS_PORTAL_ROLE is not a permission set name",
            ),
            (
                &[(TOPIC_ARN, TOPIC), (ACCESS_PORTAL_ROLE, "ReadOnly")],
                "ACCESS_PORTAL_ROLE is set without ACCESS_PORTAL_URL",
            ),
            (&[(TOPIC_ARN, TOPIC), (STACK_ACCOUNT_ID, "my-account")], "STACK_ACCOUNT_ID is not a 12-digit account id"),
        ];
        for (vars, expected) in cases {
            let message = config(vars).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.starts_with("bad configuration: "), "{vars:?}: {message}");
            assert!(message.contains(expected), "{vars:?}: {message}");
            assert!(!message.contains('\n'));
        }
    }

    #[test]
    fn category_ids_are_what_the_diagnosis_prints() {
        for category in Category::ALL {
            assert_eq!(serde_json::to_value(category).unwrap(), category.id());
            assert_eq!(Category::from_id(&category.id().to_uppercase()), Some(category));
        }
    }
}
