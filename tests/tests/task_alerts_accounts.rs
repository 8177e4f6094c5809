//! One stack for many accounts, through the Lambda emulator against moto: an ECS event that another
//! account forwarded to this account's default bus (its `account` is the sender's: EventBridge,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html>) alerts naming
//! that account, with console links in its region, or through the access portal into it; and the
//! function reads nothing from ECS or CloudWatch Logs for it (those reads stay in its own account).

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, event, text_of};
use testbed::{Lambda, outcome};

/// moto's account: the one the function runs in here.
const OWN: &str = "123456789012";
/// The account `forwarded-from-another-account` comes from.
const OTHER: &str = "210987654321";
const NAMES: &str = "210987654321=payments-prod, 123456789012=platform";
/// How the account is shown: the plain text's detail line, the chat formats' field.
const LABEL: &str = "Account: 210987654321 (payments-prod)";
const NAMED: &str = "210987654321 (payments-prod)";
const TASK_LINK: &str = "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c/configuration?region=us-east-1";
const PORTAL: &str = "https://d-1234567890.awsapps.com/start";

fn lambda(rig: &AlertsRig, format: &str, extra: &[(&str, &str)]) -> Lambda {
    let secret = rig.webhook_secret(format, format);
    let mut env = vec![
        ("ALERT_TOPIC_ARN", rig.topic_arn.as_str()),
        ("WEBHOOK_SECRET_ARN", secret.as_str()),
        ("ACCOUNT_NAMES", NAMES),
        ("STACK_ACCOUNT_ID", OWN),
    ];
    env.extend_from_slice(extra);
    rig.lambda(30, &env)
}

fn invoke(lambda: &Lambda, event: &Value) -> Value {
    let answer = outcome(&lambda.invoke_json(event));
    assert!(answer.get("errorType").is_none(), "{answer}\n{}", lambda.logs());
    answer
}

/// `name`'s sample event as if `account` had sent it.
fn from_account(name: &str, account: &str) -> Value {
    let mut event = event(name);
    event["account"] = json!(account);
    event
}

#[test]
fn a_forwarded_stop_names_its_account_and_links_its_region_without_reading_there() {
    let rig = AlertsRig::start();
    let lambda = lambda(&rig, "slack", &[]);
    let sent = invoke(&lambda, &event("forwarded-from-another-account"));
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["destinations"].as_array().map(Vec::len), Some(2), "SNS and the webhook: {sent}");

    let posts = rig.posts("slack");
    assert_eq!(posts.len(), 1);
    let slack = text_of(&posts[0].json());
    let messages = rig.sns_messages();
    assert_eq!(messages.len(), 1);
    let sns = messages[0]["Message"].as_str().unwrap_or_default().to_string();
    assert!(sns.contains(LABEL), "the SNS message lacks {LABEL:?}:\n{sns}");
    for (what, text) in [("the Slack POST", &slack), ("the SNS message", &sns)] {
        assert!(text.contains(NAMED), "{what} lacks {NAMED:?}:\n{text}");
        assert!(text.contains(TASK_LINK), "{what} lacks the console link in us-east-1:\n{text}");
        assert!(!text.contains("awsapps.com"), "{what}: no portal configured:\n{text}");
    }

    // Another account's task definition and log group are not read from this one.
    let calls = rig.proxy.calls();
    for action in ["ecs:DescribeTaskDefinition", "logs:GetLogEvents"] {
        assert_eq!(calls.count(action), 0, "{action} for another account's task");
    }
    assert!(lambda.logs().contains("log lines skipped"), "{}", lambda.logs());

    // The same stop in this account: its task definition is looked up (for the log lines) as before.
    invoke(&lambda, &from_account("stopped-out-of-memory", OWN));
    assert_eq!(rig.proxy.calls().count("ecs:DescribeTaskDefinition"), 1, "this account's task");
}

#[test]
fn with_an_access_portal_every_link_opens_in_the_events_account() {
    let rig = AlertsRig::start();
    let lambda = lambda(&rig, "generic", &[("ACCESS_PORTAL_URL", PORTAL), ("ACCESS_PORTAL_ROLE", "ReadOnly")]);
    invoke(&lambda, &event("forwarded-from-another-account"));

    let posts = rig.posts("generic");
    assert_eq!(posts.len(), 1);
    let generic = posts[0].json();
    assert_eq!((&generic["account"], &generic["account_name"]), (&json!(OTHER), &json!("payments-prod")));
    let link = generic["console_url"].as_str().unwrap_or_default();
    let encoded = TASK_LINK.replace(':', "%3A").replace('/', "%2F").replace('?', "%3F").replace('=', "%3D");
    assert_eq!(
        link,
        format!("{PORTAL}/#/console?account_id={OTHER}&role_name=ReadOnly&destination={encoded}"),
        "the portal's shortcut link into {OTHER}"
    );

    let messages = rig.sns_messages();
    let sns = messages[0]["Message"].as_str().unwrap_or_default();
    assert!(sns.contains(LABEL) && sns.contains(link), "{sns}");
}

#[test]
fn another_accounts_service_events_are_alerted_without_reading_its_ecs() {
    let rig = AlertsRig::start();
    let lambda = lambda(&rig, "teams", &[]);

    // A failed deployment: alerted, but its task definitions are not read (DescribeServices).
    let sent = invoke(&lambda, &from_account("deployment-failed", OTHER));
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(rig.proxy.calls().count("ecs:DescribeServices"), 0, "another account's service");
    let teams = text_of(&rig.posts("teams")[0].json());
    assert!(teams.contains(NAMED), "{teams}");
    invoke(&lambda, &from_account("deployment-failed", OWN));
    assert_eq!(rig.proxy.calls().count("ecs:DescribeServices"), 1, "this account's service is read");

    // A disconnected agent, with the default grace period: no second look is possible there, and
    // a disconnect alone is routine: ignored, with the reason.
    let ignored = invoke(&lambda, &from_account("container-instance-agent-disconnected", OTHER));
    assert_eq!(ignored["status"], "ignored", "{ignored}");
    let why = ignored["reason"].as_str().unwrap_or_default();
    assert!(why.contains("another account's instances cannot be looked at again"), "{why}");
    assert_eq!(rig.proxy.calls().count("sqs:SendMessage"), 0, "nothing queued");
    assert_eq!(rig.proxy.calls().count("ecs:DescribeContainerInstances"), 0);
}
