//! [`Ec2Api`]'s batched writes against a stand-in for EC2 that answers as EC2 does (its XML, its
//! error codes), call by call from a script: the fallbacks moto cannot show (it applies part of a
//! batch before it finds a duplicate, and names an unknown rule id `InvalidPermission.NotFound`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use tokio::time::Instant;

use super::*;

const OWNER: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1/Access/vpc-1";

/// One scripted answer: the action it is for, and EC2's status and body.
#[derive(Debug)]
struct Answer {
    action: &'static str,
    status: u16,
    body: String,
}

/// A call the stand-in got: its action and form parameters, decoded.
#[derive(Debug, Clone)]
struct Sent {
    action: String,
    params: Vec<(String, String)>,
}

impl Sent {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The values of the parameters whose names pass `pick`, in order.
    fn values(&self, pick: impl Fn(&str) -> bool) -> Vec<String> {
        self.params.iter().filter(|(k, _)| pick(k)).map(|(_, v)| v.clone()).collect()
    }

    /// (action, group, peers or rule ids) of the call.
    fn summary(&self) -> (String, String, Vec<String>) {
        let named = self.values(|k| {
            (k.starts_with("IpPermissions.") && (k.ends_with(".GroupId") || k.ends_with(".PrefixListId")))
                || k.starts_with("SecurityGroupRuleId.")
        });
        (self.action.clone(), self.param("GroupId").unwrap_or_default().to_string(), named)
    }
}

#[derive(Debug, Clone, Default)]
struct FakeEc2 {
    script: Arc<Mutex<VecDeque<Answer>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl FakeEc2 {
    fn new(script: Vec<Answer>) -> Self {
        Self { script: Arc::new(Mutex::new(script.into())), sent: Arc::default() }
    }

    fn network(&self) -> Ec2Api {
        let fake = self.clone();
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "stand-in", None, None, "stand-in"))
            .http_client(http_client_fn(move |_, _| SharedHttpConnector::new(fake.clone())))
            .retry_config(RetryConfig::disabled())
            .build();
        Ec2Api { ec2: Ec2::from_conf(config) }
    }

    fn calls(&self) -> Vec<(String, String, Vec<String>)> {
        self.sent.lock().unwrap().iter().map(Sent::summary).collect()
    }

    fn unanswered(&self) -> usize {
        self.script.lock().unwrap().len()
    }
}

impl HttpConnector for FakeEc2 {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        let params: Vec<(String, String)> =
            body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect();
        let sent = Sent {
            action: params.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default(),
            params,
        };
        let (status, body) = match self.script.lock().unwrap().pop_front() {
            Some(answer) if answer.action == sent.action => (answer.status, answer.body),
            Some(answer) => (500, error("Unscripted", &format!("expected {}, got {}", answer.action, sent.action))),
            None => (500, error("Unscripted", &format!("no answer left for {}", sent.action))),
        };
        self.sent.lock().unwrap().push(sent);
        let status = StatusCode::try_from(status).unwrap_or_else(|_| StatusCode::try_from(500).unwrap());
        HttpConnectorFuture::ready(Ok(Response::new(status, SdkBody::from(body))))
    }
}

/// Form decoding: `%XX` and `+`.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.unwrap_or(b'%'));
                i += if hex.is_some() { 3 } else { 1 };
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// EC2's error body.
fn error(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>59dbff89-35bd-4eac-99ed-be587EXAMPLE</RequestID></Response>"#
    )
}

fn refused(action: &'static str, code: &str, message: &str) -> Answer {
    Answer { action, status: 400, body: error(code, message) }
}

/// EC2's answer to an Authorize… that made `rules`, in the order given.
fn authorized(action: &'static str, rules: &[(&str, &RuleSpec)]) -> Answer {
    let items: String = rules
        .iter()
        .map(|(id, s)| {
            let peer = match &s.peer {
                Peer::Group(g) => format!(
                    "<referencedGroupInfo><groupId>{g}</groupId><userId>123456789012</userId></referencedGroupInfo>"
                ),
                Peer::PrefixList(pl) => format!("<prefixListId>{pl}</prefixListId>"),
                Peer::Cidr(c) => format!("<cidrIpv4>{c}</cidrIpv4>"),
            };
            format!(
                "<item><securityGroupRuleId>{id}</securityGroupRuleId><groupId>{}</groupId><groupOwnerId>123456789012</groupOwnerId><isEgress>{}</isEgress><ipProtocol>tcp</ipProtocol><fromPort>{}</fromPort><toPort>{}</toPort>{peer}<tagSet><item><key>{OWNER_TAG}</key><value>{OWNER}</value></item></tagSet></item>",
                s.group_id,
                s.direction == Direction::Egress,
                s.port,
                s.port
            )
        })
        .collect();
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>7b4c1e8d-EXAMPLE</requestId><return>true</return><securityGroupRuleSet>{items}</securityGroupRuleSet></{action}Response>"#
    );
    Answer { action, status: 200, body }
}

fn revoked(action: &'static str) -> Answer {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>7b4c1e8d-EXAMPLE</requestId><return>true</return></{action}Response>"#
    );
    Answer { action, status: 200, body }
}

fn pace() -> Pace {
    Pace { account: "123456789012".into(), region: "us-east-1".into(), until: Instant::now() + Duration::from_secs(20) }
}

fn spec(group: &str, direction: Direction, peer: Peer) -> RuleSpec {
    RuleSpec { group_id: group.into(), direction, port: 443, peer }
}

fn undo(id: &str, group: &str, direction: Direction) -> Action {
    Action::Revoke { rule_id: id.into(), group_id: group.into(), direction }
}

fn call(action: &str, group: &str, named: &[&str]) -> (String, String, Vec<String>) {
    (action.into(), group.into(), named.iter().map(|s| s.to_string()).collect())
}

const INGRESS: &str = "AuthorizeSecurityGroupIngress";
const EGRESS: &str = "AuthorizeSecurityGroupEgress";
const DUPLICATE_MESSAGE: &str =
    "the specified rule \"peer: sg-t2, TCP, from port: 443, to port: 443, ALLOW\" already exists";

/// Rules for `group_id` in `direction`, owned by [`OWNER`].
fn grant<'a>(group_id: &'a str, direction: Direction, description: &'a str) -> Grant<'a> {
    Grant { group_id, direction, owner: OWNER, description }
}
#[tokio::test]
async fn a_duplicate_in_a_batch_falls_back_to_one_call_per_rule_for_that_group_only() {
    use Direction::*;
    let e1: Vec<RuleSpec> = ["sg-t1", "sg-t2", "sg-t3"].map(|t| spec("sg-e1", Ingress, Peer::Group(t.into()))).into();
    let t1 = vec![
        spec("sg-t1", Egress, Peer::Group("sg-e1".into())),
        spec("sg-t1", Egress, Peer::PrefixList("pl-1".into())),
    ];
    let fake = FakeEc2::new(vec![
        // sg-t2's rule was added by someone since the rules were read: EC2 refuses the batch.
        refused(INGRESS, "InvalidPermission.Duplicate", DUPLICATE_MESSAGE),
        authorized(INGRESS, &[("sgr-1", &e1[0])]),
        refused(INGRESS, "InvalidPermission.Duplicate", DUPLICATE_MESSAGE),
        authorized(INGRESS, &[("sgr-3", &e1[2])]),
        // The next group is one call again; its rules come back in another order than asked.
        authorized(EGRESS, &[("sgr-s3", &t1[1]), ("sgr-4", &t1[0])]),
    ]);
    let network = fake.network();
    let mut made = Vec::new();
    network.authorize(&pace(), &grant("sg-e1", Ingress, "ecs-plumbing app Access"), &e1, &mut made).await.unwrap();
    network.authorize(&pace(), &grant("sg-t1", Egress, "ecs-plumbing app Access"), &t1, &mut made).await.unwrap();

    assert_eq!(
        fake.calls(),
        vec![
            call(INGRESS, "sg-e1", &["sg-t1", "sg-t2", "sg-t3"]),
            call(INGRESS, "sg-e1", &["sg-t1"]),
            call(INGRESS, "sg-e1", &["sg-t2"]),
            call(INGRESS, "sg-e1", &["sg-t3"]),
            call(EGRESS, "sg-t1", &["sg-e1", "pl-1"]),
        ]
    );
    // What a rollback revokes: the rules made, by the ids EC2 gave them; not sg-t2's (not ours).
    assert_eq!(
        made,
        vec![
            undo("sgr-1", "sg-e1", Ingress),
            undo("sgr-3", "sg-e1", Ingress),
            undo("sgr-s3", "sg-t1", Egress),
            undo("sgr-4", "sg-t1", Egress)
        ]
    );
    for sent in fake.sent.lock().unwrap().iter() {
        assert_eq!(sent.param("TagSpecification.1.ResourceType"), Some("security-group-rule"), "{sent:?}");
        assert_eq!(sent.param("TagSpecification.1.Tag.1.Key"), Some(OWNER_TAG), "{sent:?}");
        assert_eq!(sent.param("TagSpecification.1.Tag.1.Value"), Some(OWNER), "{sent:?}");
    }
    assert_eq!(fake.unanswered(), 0);
}

#[tokio::test]
async fn a_batched_revoke_refused_for_an_unknown_id_falls_back_per_rule_for_that_group_only() {
    use Direction::*;
    const EGRESS: &str = "RevokeSecurityGroupEgress";
    const INGRESS: &str = "RevokeSecurityGroupIngress";
    let not_found = |id: &str| format!("The security group rule ID '{id}' does not exist");
    let fake = FakeEc2::new(vec![
        // sg-t1: sgr-2 was just made and is not visible yet; EC2 refuses the whole batch.
        refused(EGRESS, "InvalidSecurityGroupRuleId.NotFound", &not_found("sgr-2")),
        revoked(EGRESS),
        refused(EGRESS, "InvalidSecurityGroupRuleId.NotFound", &not_found("sgr-2")),
        revoked(EGRESS),
        revoked(EGRESS),
        // sg-e1: one call.
        revoked(INGRESS),
        // sg-e2: moto's word for an unknown id; sgr-6 is gone already (success), sgr-7 revoked.
        refused(INGRESS, "InvalidPermission.NotFound", "The specified rule does not exist in this security group."),
        refused(INGRESS, "InvalidPermission.NotFound", "The specified rule does not exist in this security group."),
        revoked(INGRESS),
    ]);
    let network = fake.network();
    let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut revoked_count = 0;
    network.revoke(&pace(), "sg-t1", Egress, &ids(&["sgr-1", "sgr-2", "sgr-3"]), &mut revoked_count).await.unwrap();
    network.revoke(&pace(), "sg-e1", Ingress, &ids(&["sgr-4", "sgr-5"]), &mut revoked_count).await.unwrap();
    network.revoke(&pace(), "sg-e2", Ingress, &ids(&["sgr-6", "sgr-7"]), &mut revoked_count).await.unwrap();

    assert_eq!(
        fake.calls(),
        vec![
            call(EGRESS, "sg-t1", &["sgr-1", "sgr-2", "sgr-3"]),
            call(EGRESS, "sg-t1", &["sgr-1"]),
            call(EGRESS, "sg-t1", &["sgr-2"]),
            call(EGRESS, "sg-t1", &["sgr-2"]),
            call(EGRESS, "sg-t1", &["sgr-3"]),
            call(INGRESS, "sg-e1", &["sgr-4", "sgr-5"]),
            call(INGRESS, "sg-e2", &["sgr-6", "sgr-7"]),
            call(INGRESS, "sg-e2", &["sgr-6"]),
            call(INGRESS, "sg-e2", &["sgr-7"]),
        ]
    );
    assert_eq!(revoked_count, 7);
    assert_eq!(fake.unanswered(), 0);
}

#[tokio::test]
async fn other_refusals_of_a_batch_are_named_and_not_tried_rule_by_rule() {
    use Direction::*;
    let e1: Vec<RuleSpec> = ["sg-t1", "sg-t2"].map(|t| spec("sg-e1", Ingress, Peer::Group(t.into()))).into();
    let fake = FakeEc2::new(vec![
        refused(
            INGRESS,
            "RulesPerSecurityGroupLimitExceeded",
            "The maximum number of rules per security group has been reached.",
        ),
        refused(
            "RevokeSecurityGroupEgress",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        ),
    ]);
    let network = fake.network();
    let mut made = Vec::new();
    let limit = network.authorize(&pace(), &grant("sg-e1", Ingress, "d"), &e1, &mut made).await;
    assert!(matches!(&limit, Err(AccessError::RuleLimit { group_id }) if group_id == "sg-e1"), "{limit:?}");
    let ids = vec!["sgr-1".to_string(), "sgr-2".to_string()];
    let denied = network.revoke(&pace(), "sg-t1", Egress, &ids, &mut 0).await;
    assert!(matches!(&denied, Err(AccessError::Aws(f)) if f.code == "UnauthorizedOperation"), "{denied:?}");
    assert_eq!(fake.calls().len(), 2, "one call each: {:?}", fake.calls());
    assert_eq!(made, vec![]);
}
