//! One stack for many accounts: ECS events that other accounts forward to this account's default
//! event bus carry their own `account` (EventBridge: "Sending and receiving events between AWS
//! accounts", <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html>).
//! An alert names that account, by the name configured for it, and its console links can open in
//! it through the IAM Identity Center access portal.
//!
//! The names come from configuration (`ACCOUNT_NAMES`), not from an API, on purpose:
//! - `iam:ListAccountAliases` answers only for the caller's own account ("Lists the account alias
//!   associated with the AWS account";
//!   <https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListAccountAliases.html>), so it could
//!   never name a source account;
//! - `organizations:DescribeAccount` gives an account's *name*, but "can be called only from the
//!   organization's management account or by a member account that is a delegated administrator"
//!   (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeAccount.html>),
//!   which an alerting account should not be for this;
//! - either would add an SDK crate to every cold build and to the artifact, and a call to the alert.
//!
//! Pure: parsing, the label, and whether an event comes from another account.

use std::collections::BTreeMap;

/// An account name as shown: an IAM account alias has at most 63 characters, an Organizations
/// account name at most 50.
const NAME_MAX_CHARS: usize = 64;

/// Account ids and the names to show beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountNames(BTreeMap<String, String>);

impl AccountNames {
    /// `210987654321=payments-prod, 123456789012=platform`; blank: none. `Err` says what is wrong
    /// with which entry.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut names = BTreeMap::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((id, name)) = entry.split_once('=') else {
                return Err(format!("has `{entry}`: expected <12-digit account id>=<name>, comma-separated"));
            };
            let (id, name) = (id.trim(), name.trim());
            if !is_account_id(id) {
                return Err(format!("has `{entry}`: `{id}` is not a 12-digit account id"));
            }
            if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
                return Err(format!(
                    "has `{id}={name}`: a name is 1 to {NAME_MAX_CHARS} characters, without control characters"
                ));
            }
            if names.insert(id.to_string(), name.to_string()).is_some() {
                return Err(format!("names account {id} twice"));
            }
        }
        Ok(AccountNames(names))
    }

    pub fn name(&self, account: &str) -> Option<&str> {
        self.0.get(account).map(String::as_str)
    }
}

/// The IAM Identity Center access portal that console links go through, so that each opens in
/// the account it is about: a "shortcut link" names the account, optionally the role (permission
/// set), and the console page ("Create shortcut links to AWS Management Console destinations",
/// <https://docs.aws.amazon.com/singlesignon/latest/userguide/createshortcutlink.html>). A plain
/// console URL names no account: it opens in whichever one the reader is signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPortal {
    /// The portal's start URL without a trailing `/`: `https://d-1234567890.awsapps.com/start`.
    pub url: String,
    /// The permission set to sign in with; `None`: the portal lets the reader choose.
    pub role: Option<String>,
}

impl AccessPortal {
    /// The start URL (https, no query or fragment) and the role's name (a permission set's name:
    /// 1 to 32 of `A-Za-z0-9+=,.@_-`). `Err((which, problem))`: `which` is `url` or `role`.
    pub fn parse(url: &str, role: Option<&str>) -> Result<Self, (&'static str, String)> {
        let host = url.strip_prefix("https://").map(|rest| rest.split('/').next().unwrap_or(""));
        let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control() || "#?\"<>\\^`{|}".contains(c));
        if !clean || host.is_none_or(str::is_empty) {
            let expected =
                "is not an access portal start URL (https://<subdomain>.awsapps.com/start, no query or fragment)";
            return Err(("url", format!("{expected}: `{url}`")));
        }
        if let Some(role) = role
            && (role.is_empty()
                || role.len() > 32
                || !role.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)))
        {
            return Err(("role", format!("is not a permission set name (1 to 32 of A-Za-z0-9+=,.@_-): `{role}`")));
        }
        Ok(AccessPortal { url: url.trim_end_matches('/').to_string(), role: role.map(str::to_string) })
    }
}

/// A 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether an event from `account` comes from another account than the stack's `own`: what the
/// function reads from AWS (ECS, CloudWatch Logs) it reads in its own account only, so for such an
/// event it reads nothing. Unknown (either `None` or empty): not another account, as before there
/// were many.
pub fn is_another(own: Option<&str>, account: Option<&str>) -> bool {
    match (own.filter(|o| !o.is_empty()), account.filter(|a| !a.is_empty())) {
        (Some(own), Some(account)) => own != account,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed() {
        let names = AccountNames::parse(" 210987654321=payments-prod ,123456789012 = Platform team,").unwrap();
        assert_eq!(names.name("210987654321"), Some("payments-prod"));
        assert_eq!(names.name("123456789012"), Some("Platform team"));
        assert_eq!(names.name("111122223333"), None);
        assert_eq!(AccountNames::parse("  ").unwrap(), AccountNames::default());
    }

    #[test]
    fn bad_names_say_which_entry() {
        let long = format!("210987654321={}", "n".repeat(65));
        let cases = [
            ("210987654321", "has `210987654321`: expected <12-digit account id>=<name>"),
            ("21098765432=short", "`21098765432` is not a 12-digit account id"),
            ("arn:aws:iam::210987654321:root=x", "is not a 12-digit account id"),
            ("210987654321=", "has `210987654321=`: a name is 1 to 64 characters"),
            (long.as_str(), "a name is 1 to 64 characters"),
            ("210987654321=a\u{7}b", "without control characters"),
            ("210987654321=a, 210987654321=b", "names account 210987654321 twice"),
        ];
        for (list, want) in cases {
            let got = AccountNames::parse(list).unwrap_err();
            assert!(got.contains(want), "{list}: {got}");
        }
    }

    #[test]
    fn access_portal() {
        let portal = AccessPortal::parse("https://d-1234567890.awsapps.com/start/", Some("ReadOnly")).unwrap();
        assert_eq!(portal.url, "https://d-1234567890.awsapps.com/start");
        assert_eq!(portal.role.as_deref(), Some("ReadOnly"));
        assert_eq!(AccessPortal::parse("https://my-org.awsapps.com/start", None).unwrap().role, None);
        let cases = [
            ("http://d-1234567890.awsapps.com/start", None, "url"),
            ("https:///start", None, "url"),
            ("https://d-1234567890.awsapps.com/start/#/console", None, "url"),
            ("https://d-1234567890.awsapps.com/start?x=1", None, "url"),
            ("https://d-1234567890.awsapps.com/st art", None, "url"),
            ("https://d-1234567890.awsapps.com/start", Some("Read Only"), "role"),
            ("https://d-1234567890.awsapps.com/start", Some("AWSAdministratorAccessForAVeryLongTeam"), "role"),
            ("https://d-1234567890.awsapps.com/start", Some("a&b"), "role"),
        ];
        for (url, role, which) in cases {
            assert_eq!(AccessPortal::parse(url, role).map_err(|(w, _)| w), Err(which), "{url} {role:?}");
        }
    }

    #[test]
    fn another_account_only_when_both_are_known() {
        let own = Some("123456789012");
        assert!(is_another(own, Some("210987654321")));
        assert!(!is_another(own, Some("123456789012")));
        assert!(!is_another(own, None) && !is_another(own, Some("")));
        assert!(!is_another(None, Some("210987654321")) && !is_another(Some(""), Some("210987654321")));
    }
}
