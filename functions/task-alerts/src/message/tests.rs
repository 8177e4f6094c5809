//! The model's tests, and those of every format side by side: each payload's keys and limits, the links,
//! the log lines and the suppressed count.

use serde_json::{Value, json};

use super::amazon_q::Q_DESCRIPTION_MAX;
use super::console::logs_url;
use super::discord::{
    DISCORD_CONTENT_MAX, DISCORD_DESCRIPTION_MAX, DISCORD_EMBEDS_TOTAL_MAX, DISCORD_FIELD_NAME_MAX,
    DISCORD_FIELD_VALUE_MAX, DISCORD_FIELDS_MAX, DISCORD_TITLE_MAX,
};
use super::fixtures::*;
use super::parts::LOG_LINE_MAX;
use super::rfc3339::rfc3339_utc;
use super::slack::{SLACK_FIELD_MAX, SLACK_FIELDS_MAX, SLACK_HEADER_MAX, SLACK_SECTION_MAX};
use super::teams::TEAMS_TEXT_MAX;
use super::text::units;
use super::*;
use crate::diagnosis::diagnose;

#[test]
fn titles() {
    #[rustfmt::skip]
    let cases: Vec<(&str, TaskDetail, &str)> = vec![
        ("service, OOM container", service_oom(),
         "[prod] web: Out of memory (app, exit 137)"),
        ("standalone family, Spot, no container", task(json!({
            "clusterArn": CLUSTER, "taskArn": TASK, "group": "family:nightly",
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:1:task-definition/nightly:3",
            "stopCode": "SpotInterruption", "stoppedReason": "Your Spot Task was interrupted.",
            "containers": [{"name": "job", "exitCode": 143}]})),
         "[prod] nightly: Fargate Spot interruption (SpotInterruption)"),
        ("container without exit code: the stop code", task(json!({
            "clusterArn": CLUSTER, "group": "service:api", "stopCode": "TaskFailedToStart",
            "containers": [{"name": "api", "reason": "CannotPullContainerError: pull access denied"}]})),
         "[prod] api: Image pull failed (api, TaskFailedToStart)"),
        ("container without any key fact", task(json!({
            "clusterArn": CLUSTER, "group": "service:api",
            "containers": [{"name": "api", "reason": "CannotPullContainerError: pull access denied"}]})),
         "[prod] api: Image pull failed (api)"),
        ("cluster from a long task ARN, family from the group", task(json!({
            "taskArn": TASK, "group": "family:batch", "stopCode": "EssentialContainerExited",
            "containers": [{"name": "main", "exitCode": 1}]})),
         "[prod] batch: Essential container exited (main, exit 1)"),
        ("nothing known", task(json!({"containers": []})),
         "[unknown-cluster] unknown-task: Stopped for an unclear reason"),
        ("AWS example: user stop, standalone family",
         TaskDetail::from_json(USER_STOPPED).expect("event"),
         "[MyCluster] webserver: Stopped on purpose (deployment, scale-in or StopTask) (UserInitiated)"),
        ("AWS example: Spot notice, short task ARN", TaskDetail::from_json(SPOT_NOTICE).expect("event"),
         "[default] unknown-task: Fargate Spot interruption (TerminationNotice)"),
    ];
    for (name, task, want) in cases {
        assert_eq!(alert_of(&task).title(), want, "{name}");
    }
}

#[test]
fn names_links_and_times_come_out_of_the_task() {
    let alert = alert_of(&service_oom());
    assert_eq!(alert.task_id.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(alert.task_definition().as_deref(), Some("web:42"));
    assert_eq!(alert.stopped_at.as_deref(), Some("2023-11-14T22:13:20.500Z"));
    assert_eq!(
        alert.console_url.as_deref(),
        Some(
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/\
             0123456789abcdef0123456789abcdef/configuration?region=eu-west-1"
        )
    );
    assert_eq!(alert.thread_id(), "prod/web");

    let event = TaskDetail::from_json(USER_STOPPED).expect("event");
    let logs = LogStream::awslogs("/ecs/webserver", "ecs", "web", "36ad4ef947bb470b89010d864574237e");
    let alert = Alert::new(&event, &diagnose(&event), "", Some(logs));
    assert_eq!(alert.region, "us-east-1", "the region of the ARNs when none is given");
    assert_eq!(
        alert.logs_url.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/\
             log-group/$252Fecs$252Fwebserver/log-events/ecs$252Fweb$252F36ad4ef947bb470b89010d864574237e"
        )
    );
    assert_eq!(alert.stopped_at, None);

    let no_region = task(json!({"clusterArn": "prod", "taskArn": "nope"}));
    let alert = Alert::new(&no_region, &diagnose(&no_region), "not a region!", None);
    assert_eq!((alert.cluster.as_str(), alert.console_url), ("prod", None));
    assert_eq!(rfc3339_utc(0.0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_utc(951_782_400.0), "2000-02-29T00:00:00Z");
}

/// Every format, for a normal task and for huge ASCII and non-ASCII reasons: valid JSON, the keys the
/// service requires, every text within its limit, and the links kept.
#[test]
fn webhook_payloads_have_their_keys_and_stay_within_limits() {
    let [logs, huge_logs] = with_logs();
    let alerts = [alert_of(&service_oom()), huge("x"), huge("é😀"), logs, huge_logs];
    for alert in &alerts {
        let console = alert.console_url.as_deref().expect("a console link");
        for format in [WebhookFormat::Slack, WebhookFormat::Teams, WebhookFormat::Discord, WebhookFormat::Generic] {
            let payload = alert.webhook_payload(format);
            let text = payload.to_string();
            let reparsed: Value = serde_json::from_str(&text).expect("valid JSON");
            assert_eq!(reparsed, payload);
            assert!(text.contains(console), "{format:?} lost the console link");
            if let Some(logs) = &alert.logs_url {
                assert!(text.contains(logs.as_str()), "{format:?} lost the logs link");
            }
        }

        let slack = alert.slack();
        within(text_at(&slack, "/text"), SLACK_SECTION_MAX, "slack text");
        let blocks = slack["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= 50);
        assert_eq!(text_at(&slack, "/blocks/0/type"), "header");
        within(text_at(&slack, "/blocks/0/text/text"), SLACK_HEADER_MAX, "slack header");
        for block in blocks.iter().skip(1) {
            assert_eq!(block["type"], "section");
            if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                within(text, SLACK_SECTION_MAX, "slack section");
                assert_eq!(block["text"]["type"], "mrkdwn");
            }
            if let Some(fields) = block["fields"].as_array() {
                assert!(fields.len() <= SLACK_FIELDS_MAX);
                for field in fields {
                    within(text_at(field, "/text"), SLACK_FIELD_MAX, "slack field");
                }
            }
        }

        let teams = alert.teams();
        assert_eq!(teams["type"], "message");
        assert_eq!(text_at(&teams, "/attachments/0/contentType"), "application/vnd.microsoft.card.adaptive");
        let card = &teams["attachments"][0]["content"];
        assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
        assert!(card["body"].as_array().is_some_and(|body| !body.is_empty()));
        assert_eq!(text_at(card, "/actions/0/type"), "Action.OpenUrl");
        assert_eq!(text_at(card, "/actions/0/url"), console);
        assert!(teams.to_string().len() < 14_000, "teams card is {} bytes", teams.to_string().len());

        let discord = alert.discord();
        within(text_at(&discord, "/content"), DISCORD_CONTENT_MAX, "discord content");
        let embed = &discord["embeds"][0];
        within(text_at(embed, "/title"), DISCORD_TITLE_MAX, "discord title");
        within(text_at(embed, "/description"), DISCORD_DESCRIPTION_MAX, "discord description");
        assert_eq!(text_at(embed, "/url"), console);
        let fields = embed["fields"].as_array().expect("fields");
        assert!(fields.len() <= DISCORD_FIELDS_MAX);
        let mut total = units(text_at(embed, "/title")) + units(text_at(embed, "/description"));
        for field in fields {
            within(text_at(field, "/name"), DISCORD_FIELD_NAME_MAX, "discord field name");
            within(text_at(field, "/value"), DISCORD_FIELD_VALUE_MAX, "discord field value");
            total += units(text_at(field, "/name")) + units(text_at(field, "/value"));
        }
        assert!(total <= DISCORD_EMBEDS_TOTAL_MAX, "discord embed total {total}");
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));

        let generic = alert.generic();
        for key in ["category", "summary", "hint", "cluster", "service", "task_arn", "task_definition"] {
            assert!(!generic[key].is_null(), "generic {key}");
        }
        for key in ["evidence", "console_url", "logs_url", "stopped_at"] {
            assert!(generic.get(key).is_some(), "generic {key}");
        }
        assert_eq!(text_at(&generic, "/console_url"), console);
    }
}

#[test]
fn with_log_tail_sets_the_stream_and_its_link() {
    let alert = alert_of(&service_oom());
    assert_eq!((alert.logs_url.as_deref(), alert.log_lines.len()), (None, 0));
    let alert = alert.with_log_tail(app_logs(), vec!["ready".into()]);
    assert_eq!(alert.logs, Some(app_logs()));
    assert_eq!(alert.logs_url, Some(logs_url("eu-west-1", &app_logs())));
    assert_eq!(alert.log_lines, ["ready"]);

    let no_region = task(json!({"clusterArn": "prod", "taskArn": "nope"}));
    let alert = Alert::new(&no_region, &diagnose(&no_region), "", None).with_log_tail(app_logs(), vec![]);
    assert_eq!((alert.logs.is_some(), alert.logs_url), (true, None), "no link without a region");
}

/// The log block of each format: within its limit, on one line per log line, the newest kept (escaped
/// as the format escapes), the older ones counted when some are left out.
#[test]
fn log_lines_fit_every_format_and_keep_the_newest() {
    for alert in with_logs() {
        let slack = alert.slack();
        let slack_logs = slack["blocks"]
            .as_array()
            .and_then(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.pointer("/text/text")?.as_str())
                    .find(|t| t.starts_with("*Last 20 log lines*"))
            })
            .expect("a Slack section of log lines");
        let teams = alert.teams();
        let body = teams["attachments"][0]["content"]["body"].as_array().expect("a card body");
        let [heading, teams_logs] = &body[body.len() - 2..] else { panic!("two log blocks") };
        assert_eq!(
            (heading["text"].as_str(), teams_logs["fontType"].as_str()),
            (Some("Last 20 log lines"), Some("Monospace"))
        );
        let discord = alert.discord();
        let log_field = discord["embeds"][0]["fields"].as_array().and_then(|fields| fields.last()).expect("fields");
        assert_eq!((log_field["name"].as_str(), log_field["inline"].as_bool()), (Some("Last log lines"), Some(false)));
        let generic = alert.generic();
        let generic_lines: Vec<&str> =
            generic["log_lines"].as_array().expect("log_lines").iter().filter_map(Value::as_str).collect();
        let q = alert.amazon_q_notification(&alert.thread_id());

        let plain = alert.plain_text();
        let newest = "line 19 é😀<&`é😀<&`";
        #[rustfmt::skip]
        let cases: Vec<(&str, &str, usize, &str, bool)> = vec![
            // format, text, limit, the newest line's start, earlier lines left out
            ("plain text", &plain, 256 * 1024, newest, false),
            ("slack", slack_logs, SLACK_SECTION_MAX, "line 19 é😀&lt;&amp;`é😀&lt;&amp;`", true),
            ("teams", text_at(teams_logs, "/text"), TEAMS_TEXT_MAX, newest, true),
            ("discord", text_at(log_field, "/value"), DISCORD_FIELD_VALUE_MAX, newest, true),
            ("generic", generic_lines.last().expect("a line"), LOG_LINE_MAX, newest, false),
            ("amazon q", text_at(&q, "/content/description"), Q_DESCRIPTION_MAX, newest, true),
        ];
        for (format, text, max, newest, cut) in cases {
            within(text, max, format);
            assert!(text.contains(newest), "{format} lost the newest line:\n{text}");
            assert!(!text.contains(|c: char| c.is_control() && c != '\n' && c != '\t'), "{format}: {text:?}");
            assert!(!text.contains(['\u{2028}', '\u{85}']), "{format}: {text:?}");
            assert_eq!(text.contains(" earlier lines left out"), cut, "{format}:\n{text}");
        }

        assert_eq!(slack_logs.matches("```").count(), 2, "{slack_logs}");
        assert!(!slack_logs.contains('<'), "{slack_logs}");
        assert_eq!(text_at(log_field, "/value").matches("```").count(), 2);
        assert_eq!(generic_lines.len(), 20, "the generic JSON has room for every line");
        assert!(generic_lines.iter().all(|line| units(line) <= LOG_LINE_MAX && !line.contains('\n')));
        assert!(generic_lines[1].starts_with("line 01 cr  lf  [31mred  nul\ttab ls nel"), "{}", generic_lines[1]);
        assert_eq!(generic["log_lines_left_out"], 0);
        assert_eq!(
            (text_at(&generic, "/log_group"), text_at(&generic, "/log_stream")),
            ("/ecs/web", "ecs/app/0123456789abcdef0123456789abcdef")
        );

        let heading = "Last 20 log lines (/ecs/web ecs/app/0123456789abcdef0123456789abcdef):\n  line 00 xxx";
        let (evidence, logs, details) = (plain.find("Evidence:"), plain.find(heading), plain.find("Cluster: prod"));
        assert!(evidence < logs && logs < details, "the log lines between evidence and details:\n{plain}");
        assert!(plain.contains("\n  line 19 é😀<&`"), "{plain}");
        assert!(plain.len() <= 256 * 1024, "an SNS message is at most 256 KB");
    }
}

#[test]
fn no_log_lines_no_log_block() {
    let none = alert_of(&service_oom()).with_log_tail(app_logs(), vec![]);
    let one = none.clone().with_log_tail(app_logs(), vec!["boom".into()]);
    for (format, none, one) in [
        ("plain text", json!(none.plain_text()), json!(one.plain_text())),
        ("slack", none.slack(), one.slack()),
        ("teams", none.teams(), one.teams()),
        ("discord", none.discord(), one.discord()),
        ("generic", none.generic(), one.generic()),
        ("amazon q", none.amazon_q_notification("t"), one.amazon_q_notification("t")),
    ] {
        assert!(!none.to_string().contains("log line"), "{format}: {none}");
        assert!(one.to_string().contains("boom"), "{format}: {one}");
    }
    assert!(none.generic().get("log_lines").is_none());
}

#[test]
fn suppressed_count_and_time_in_every_format() {
    let alert = alert_of(&service_oom()).with_suppressed(9, Some(SINCE.into()));
    let sentence = format!(
        "9 suppressed since {SINCE}: similar stops of this service (same category) were held back since the last alert."
    );
    assert!(alert.plain_text().contains(&sentence), "{}", alert.plain_text());
    #[rustfmt::skip]
    let cases = [
        ("plain text", json!(alert.plain_text())), ("slack", alert.slack()), ("teams", alert.teams()),
        ("discord", alert.discord()), ("generic", alert.generic()),
        ("amazon q", alert.amazon_q_notification(&alert.thread_id())),
    ];
    for (format, payload) in cases {
        assert!(payload.to_string().contains(&format!("9 suppressed since {SINCE}")), "{format}: {payload}");
    }
    assert_eq!(alert.generic()["suppressed_since"], SINCE);

    let one = alert_of(&service_oom()).with_suppressed(1, Some(SINCE.into())).plain_text();
    assert!(one.contains(&format!("\n1 suppressed since {SINCE}: similar stops of this")), "{one}");
    let untimed = alert_of(&service_oom()).with_suppressed(2, None).plain_text();
    assert!(untimed.contains("\n2 suppressed: similar stops of this service"), "{untimed}");
    let none = alert_of(&service_oom()).with_suppressed(0, Some(SINCE.into()));
    assert!(!none.plain_text().contains("suppressed") && none.generic()["suppressed_note"].is_null());
}
