//! Why SNS refused a publish because of the topic's KMS key, and the fix: the one place the KMS
//! error codes of `sns:Publish` are mapped.
//!
//! A topic encrypted with a customer-managed key takes publishes only from principals allowed
//! `kms:GenerateDataKey*` and `kms:Decrypt` on that key (Amazon SNS Developer Guide, "Key management",
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#sns-what-permissions-for-sse>);
//! the stack grants them with its `AlertTopicKmsKeyArn` parameter. Publish answers the codes below
//! (Amazon SNS API Reference, Publish, "Errors":
//! <https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors>). The message
//! usually names the key ARN (`… is not authorized to perform: kms:GenerateDataKey on resource:
//! arn:aws:kms:…:key/…`), but not always: it can be KMS's bare "The ciphertext refers to a customer
//! master key that does not exist …" or even `null (Service: AWSKMS; …)` (aws/aws-cdk#24337,
//! aws-samples/aws-secure-environment-accelerator#971); then the hint says how to look the key up.

use shared::aws::AwsFailure;

/// The stack parameter that grants the function's role the key, and the variable it arrives in.
pub const KEY_PARAMETER: &str = "AlertTopicKmsKeyArn";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsProblem {
    /// `KMSAccessDenied`: the role (or the key policy) does not allow the key's use.
    AccessDenied,
    /// `KMSDisabled`: the key is disabled.
    Disabled,
    /// `KMSNotFound`: the key is gone, or in another region or account.
    NotFound,
    /// `KMSInvalidState`: e.g. pending deletion, or pending import of its key material.
    InvalidState,
    /// `KMSOptInRequired`: the account has no subscription to KMS.
    OptInRequired,
    /// `KMSThrottling`: KMS throttled SNS's calls for the key (retried, as throttling is).
    Throttling,
}

const CODES: &[(&str, KmsProblem)] = &[
    ("KMSAccessDenied", KmsProblem::AccessDenied),
    ("KMSDisabled", KmsProblem::Disabled),
    ("KMSNotFound", KmsProblem::NotFound),
    ("KMSInvalidState", KmsProblem::InvalidState),
    ("KMSOptInRequired", KmsProblem::OptInRequired),
    ("KMSThrottling", KmsProblem::Throttling),
];

impl KmsProblem {
    /// The problem a failed publish reports, if it is one of the key's. The SDKs have spelled the
    /// codes with an `Exception` suffix too (`KMSAccessDeniedException`).
    pub fn of(failure: &AwsFailure) -> Option<Self> {
        let code = failure.code.strip_suffix("Exception").unwrap_or(&failure.code);
        CODES.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|(_, problem)| *problem)
    }

    /// `; <what is wrong with the key>: <the fix>`, naming the key (from the message, else the one
    /// configured) and the parameter. `granted`: the key `AlertTopicKmsKeyArn` grants, if set.
    pub fn hint(self, failure: &AwsFailure, topic: &str, granted: Option<&str>) -> String {
        let named = key_arn_in(&failure.message);
        let lookup = format!(
            "(its KmsMasterKeyId: `aws sns get-topic-attributes --topic-arn {topic} --query Attributes.KmsMasterKeyId`)"
        );
        let key = named.or(granted).map_or_else(|| format!("the topic's KMS key {lookup}"), |k| format!("KMS key {k}"));
        let key_id = named.or(granted).unwrap_or("<key>");
        match self {
            KmsProblem::AccessDenied => match (named, granted) {
                (Some(named), None) => format!(
                    "; the topic is encrypted with the customer-managed KMS key {named}: set the stack parameter {KEY_PARAMETER} to {named} (it grants this function's role kms:GenerateDataKey* and kms:Decrypt on it)"
                ),
                (None, None) => format!(
                    "; the topic is encrypted with a customer-managed KMS key: set the stack parameter {KEY_PARAMETER} to its key ARN {lookup} (it grants this function's role kms:GenerateDataKey* and kms:Decrypt on it)"
                ),
                (Some(named), Some(granted)) if named != granted => format!(
                    "; the topic is encrypted with KMS key {named}, but {KEY_PARAMETER} grants {granted}: set {KEY_PARAMETER} to {named}"
                ),
                (_, Some(granted)) => format!(
                    "; {KEY_PARAMETER} grants this function's role kms:GenerateDataKey* and kms:Decrypt on {granted}: check that it is the topic's key {lookup}, and that the key policy lets IAM policies grant its use (its default statement does) or names the role"
                ),
            },
            KmsProblem::Disabled => format!(
                "; {key} is disabled: enable it (`aws kms enable-key --key-id {key_id}`), or encrypt the topic with another key and set {KEY_PARAMETER} to it"
            ),
            KmsProblem::NotFound => format!(
                "; {key} does not exist (deleted, or in another region or account): encrypt the topic with an existing key of its region and set {KEY_PARAMETER} to it"
            ),
            KmsProblem::InvalidState => format!(
                "; {key} cannot be used in its state (pending deletion, or pending import of its key material): cancel its deletion (`aws kms cancel-key-deletion --key-id {key_id}`, then `aws kms enable-key`) or import its material, or encrypt the topic with another key and set {KEY_PARAMETER} to it"
            ),
            KmsProblem::OptInRequired => format!(
                "; this account has no subscription to AWS KMS for {key}: ask AWS Support to enable KMS for the account, or remove the topic's encryption"
            ),
            KmsProblem::Throttling => format!(
                "; KMS throttled SNS's requests for {key}: raise the account's KMS request quota (cryptographic operations) or publish less often"
            ),
        }
    }
}

/// The first KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`) in `text`. Not an
/// alias ARN: IAM policies name keys by their key ARN.
pub fn key_arn_in(text: &str) -> Option<&str> {
    let delimiter = |c: char| c.is_whitespace() || "\"'`(),;<>[]{}".contains(c);
    text.split(delimiter).map(|word| word.trim_end_matches(['.', ':'])).find(|word| is_key_arn(word))
}

fn is_key_arn(word: &str) -> bool {
    let parts: Vec<&str> = word.splitn(6, ':').collect();
    let id_ok = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    matches!(parts.as_slice(), ["arn", partition, "kms", region, account, resource]
        if partition.starts_with("aws") && !region.is_empty()
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("key/").is_some_and(id_ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ecs-alerts";
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const OTHER: &str = "arn:aws:kms:us-east-1:123456789012:key/mrk-0f1e2d3c4b5a49687766554433221100";

    fn failure(code: &str, message: &str) -> AwsFailure {
        AwsFailure { action: "sns:Publish", code: code.into(), message: message.into() }
    }

    /// What SNS says when the role lacks the key: KMS's own message, carried through.
    fn denied(key: &str) -> String {
        format!(
            "User: arn:aws:sts::123456789012:assumed-role/ecs-plumbing-TaskAlertsFunctionRole/ecs-plumbing-TaskAlertsFunction is not authorized to perform: kms:GenerateDataKey on resource: {key} because no identity-based policy allows the kms:GenerateDataKey action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 11e6d3bc-dcab-4eb7-906f-290af35a4f1d; Proxy: null)"
        )
    }

    #[test]
    fn every_code_of_the_publish_reference_is_mapped() {
        for (code, problem) in CODES {
            assert_eq!(KmsProblem::of(&failure(code, "")), Some(*problem));
            assert_eq!(KmsProblem::of(&failure(&format!("{code}Exception"), "")), Some(*problem), "{code}Exception");
            assert_eq!(KmsProblem::of(&failure(&code.to_lowercase(), "")), Some(*problem));
        }
        for code in ["AuthorizationError", "NotFound", "KMS", "KMSAccessDeniedX", "InvalidParameter"] {
            assert_eq!(KmsProblem::of(&failure(code, "")), None, "{code}");
        }
        // Throttling is retried as throttling is; the others are final.
        assert!(failure("KMSThrottling", "").is_transient());
        assert!(CODES.iter().filter(|(c, _)| *c != "KMSThrottling").all(|(c, _)| !failure(c, "").is_transient()));
    }

    #[test]
    fn access_denied_names_the_key_and_the_parameter() {
        let f = failure("KMSAccessDenied", &denied(KEY));
        let cases: &[(Option<&str>, &[&str])] = &[
            (None, &[&format!("set the stack parameter AlertTopicKmsKeyArn to {KEY}"), "kms:GenerateDataKey*"]),
            (Some(OTHER), &[&format!("encrypted with KMS key {KEY}, but AlertTopicKmsKeyArn grants {OTHER}")]),
            (
                Some(KEY),
                &[
                    &format!(
                        "AlertTopicKmsKeyArn grants this function's role kms:GenerateDataKey* and kms:Decrypt on {KEY}"
                    ),
                    "key policy",
                ],
            ),
        ];
        for (granted, expected) in cases {
            let hint = KmsProblem::AccessDenied.hint(&f, TOPIC, *granted);
            for needle in *expected {
                assert!(hint.contains(needle), "{granted:?}: {hint}");
            }
            assert!(hint.starts_with("; ") && !hint.contains('\n'), "{hint}");
        }
    }

    #[test]
    fn without_a_key_in_the_message_it_says_how_to_find_it() {
        for message in [
            "null (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 318a7abf-00c8-4b1d-8877-cb1fba8271e5; Proxy: null)",
            "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
        ] {
            let hint = KmsProblem::AccessDenied.hint(&failure("KMSAccessDenied", message), TOPIC, None);
            assert!(hint.contains("set the stack parameter AlertTopicKmsKeyArn to its key ARN"), "{hint}");
            assert!(hint.contains(&format!("aws sns get-topic-attributes --topic-arn {TOPIC}")), "{hint}");
            let hint = KmsProblem::AccessDenied.hint(&failure("KMSAccessDenied", message), TOPIC, Some(KEY));
            assert!(hint.contains("AlertTopicKmsKeyArn grants") && hint.contains(KEY), "{hint}");
        }
    }

    #[test]
    fn the_key_states_say_their_fix() {
        let in_message = |what: &str| format!("{KEY} is {what}. (Service: AWSKMS; Status Code: 400; Error Code: X)");
        let cases = [
            (KmsProblem::Disabled, "KMSDisabled", in_message("disabled"), "is disabled: enable it"),
            (KmsProblem::NotFound, "KMSNotFound", format!("Key '{KEY}' does not exist"), "does not exist"),
            (KmsProblem::InvalidState, "KMSInvalidState", in_message("pending deletion"), "cancel its deletion"),
            (
                KmsProblem::OptInRequired,
                "KMSOptInRequired",
                "The AWS Access Key Id needs a subscription for the service".into(),
                "subscription",
            ),
            (KmsProblem::Throttling, "KMSThrottling", "Rate exceeded".into(), "quota"),
        ];
        for (problem, code, message, fix) in cases {
            let f = failure(code, &message);
            assert_eq!(KmsProblem::of(&f), Some(problem));
            let hint = problem.hint(&f, TOPIC, None);
            assert!(hint.contains(fix), "{code}: {hint}");
            let named = message.contains(KEY);
            assert!(!named || hint.contains(KEY), "{code} names the key: {hint}");
        }
        // With no key in the message, the configured one is named; with neither, the look-up.
        let bare = failure("KMSDisabled", "Invalid request");
        assert!(KmsProblem::Disabled.hint(&bare, TOPIC, Some(OTHER)).contains(OTHER));
        assert!(KmsProblem::Disabled.hint(&bare, TOPIC, None).contains("get-topic-attributes"));
    }

    #[test]
    fn key_arns_are_found_in_messages() {
        assert_eq!(key_arn_in(&denied(KEY)), Some(KEY));
        assert_eq!(key_arn_in(&format!("Key '{OTHER}' does not exist")), Some(OTHER));
        assert_eq!(key_arn_in(&format!("{KEY}.")), Some(KEY));
        assert_eq!(
            key_arn_in("arn:aws-cn:kms:cn-north-1:123456789012:key/abc-1 is disabled"),
            Some("arn:aws-cn:kms:cn-north-1:123456789012:key/abc-1")
        );
        for none in [
            "arn:aws:kms:us-east-1:123456789012:alias/ecs-alerts",
            "arn:aws:sts::123456789012:assumed-role/r/s",
            "arn:aws:kms:us-east-1:12345:key/abc",
            "null (Service: AWSKMS)",
            "",
        ] {
            assert_eq!(key_arn_in(none), None, "{none}");
        }
    }
}
