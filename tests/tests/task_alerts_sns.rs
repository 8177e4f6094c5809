//! task-alerts' SNS message per protocol (`MessageStructure` `json`, the default `SNS_MESSAGE_FORMAT`),
//! through the Lambda emulator against moto: one publish, and what each kind of subscriber gets.
//!
//! How each delivery is seen:
//! - `https` (Amazon Q Developer's protocol): moto really POSTs the notification, to the receiver.
//!   The endpoint is the receiver's plain-HTTP URL under protocol `https`: moto does not check that an
//!   endpoint matches its protocol (AWS does), and picks the message by the subscription's protocol.
//! - `http`: the rig's own subscription, also POSTed by moto: an endpoint with no key of its own.
//! - `email`: moto sends no email. Our moto launcher records what moto picked for the subscription
//!   (moto's own `_parse_message_structure`: the protocol's key, else `default`) at
//!   `/moto-api/sns/unsent`, after moto's delivery code ran: that is the text SNS would mail.

use serde_json::Value;
use testbed::alerts::{AlertsRig, assert_says_all, event, text_of};
use testbed::{Received, outcome};

const ONCALL: &str = "oncall@example.com";

/// The rig with an `https` subscription on the receiver at `/q` and an `email` one, besides its `http`.
fn rig() -> AlertsRig {
    let rig = AlertsRig::start();
    rig.subscribe("https", &rig.sns_inbox.url("/q"));
    rig.subscribe("email", ONCALL);
    rig
}

/// The one notification moto POSTed to `path`: SNS's HTTP(S) notification JSON.
fn posted(rig: &AlertsRig, path: &str) -> Value {
    let posts: Vec<Received> = rig.sns_inbox.received_at(path);
    assert_eq!(posts.len(), 1, "one notification at {path}");
    let notification = posts[0].json();
    assert_eq!(notification["Type"], "Notification", "{notification}");
    notification
}

fn message(notification: &Value) -> &str {
    notification["Message"].as_str().unwrap_or_default()
}

/// The acceptance of #20: one publish, the Amazon Q Developer JSON to the `https` subscription and the
/// plain text to the `email` one (and to every protocol without a key of its own, here `http`).
#[test]
fn one_publish_gives_email_the_text_and_https_the_amazon_q_notification() {
    let rig = rig();
    // No SNS_MESSAGE_FORMAT: per-protocol is the default.
    let lambda = rig.lambda(30, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str())]);
    let sent = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
    assert_eq!(sent["status"], "sent", "{sent}\n{}", lambda.logs());
    assert_eq!(rig.proxy.calls().count("sns:Publish"), 1, "one publish for every subscriber");

    let https = posted(&rig, "/q");
    let q: Value = serde_json::from_str(message(&https)).expect("https gets the notification JSON");
    assert_eq!((&q["version"], &q["source"]), (&Value::from("1.0"), &Value::from("custom")), "{q}");
    assert_eq!(
        (&q["content"]["textType"], &q["metadata"]["threadId"]),
        (&"client-markdown".into(), &"prod/api".into())
    );
    assert_says_all("the Amazon Q notification", &text_of(&q));

    let unsent = rig.moto.sns_unsent();
    assert_eq!(unsent.len(), 1, "one notification for the email subscription: {unsent:?}");
    let email = &unsent[0];
    assert_eq!((email["Protocol"].as_str(), email["Endpoint"].as_str()), (Some("email"), Some(ONCALL)));
    let text = message(email);
    assert!(serde_json::from_str::<Value>(text).is_err(), "email gets plain text, not JSON:\n{text}");
    assert!(text.starts_with("Out of memory: OutOfMemoryError"), "{text}");
    assert_says_all("the email", text);

    let http = posted(&rig, "/sns");
    assert_eq!(message(&http), text, "http has no key of its own: it gets `default`, the same text");
    for notification in [&https, &http, email] {
        assert_eq!(notification["MessageId"], https["MessageId"], "one publish: one message id");
        let subject = notification["Subject"].as_str().unwrap_or_default();
        assert!(subject.starts_with("[prod] api: Out of memory (api, exit 137)"), "{subject}");
    }
}

/// `text` and `amazon-q` still send every subscriber the same thing, as before.
#[test]
fn text_and_amazon_q_still_send_one_message_to_all() {
    let rig = rig();
    for (format, is_json) in [("text", false), ("amazon-q", true)] {
        rig.sns_inbox.reset();
        let env = [("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("SNS_MESSAGE_FORMAT", format)];
        let sent = outcome(&rig.lambda(30, &env).invoke_json(&event("stopped-out-of-memory")));
        assert_eq!(sent["status"], "sent", "{format}: {sent}");
        let email = rig.moto.sns_unsent().pop().expect("the email subscription's notification");
        let (https, http) = (posted(&rig, "/q"), posted(&rig, "/sns"));
        for (protocol, text) in [("https", message(&https)), ("http", message(&http)), ("email", message(&email))] {
            assert_eq!(text, message(&https), "{format}: {protocol} gets what https gets");
            let parsed = serde_json::from_str::<Value>(text);
            assert_eq!(parsed.is_ok(), is_json, "{format}: {protocol}:\n{text}");
            assert_says_all(&format!("{format}: {protocol}"), &parsed.map(|q| text_of(&q)).unwrap_or(text.into()));
        }
    }
    assert_eq!(rig.moto.sns_unsent().len(), 2);
}
