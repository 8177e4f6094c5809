//! The chat webhook: where it is (from the secret's value) and how to post to it.
//!
//! The URL is a credential (anyone holding it can post to the channel). It lives only inside
//! [`Webhook`], whose `Debug` hides it; no error here carries it or the secret's value, and HTTP
//! client errors are stripped of it before they leave.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use shared::http::{Http, Request, Undelivered, Uri, absolute_url};

use shared::retry::Failure;

#[derive(Clone)]
pub struct Webhook {
    url: Uri,
    pub format: WebhookFormat,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook").field("url", &"<hidden>").field("format", &self.format).finish()
    }
}

/// The chat services a webhook secret can name in its `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Slack,
    Teams,
    Discord,
    Generic,
}

/// The formats there are, as a message names them.
pub const FORMATS: &str = "slack, teams, discord or generic";

/// AWS ended Amazon Chime on 2026-02-20 ("End of support notice", docs.aws.amazon.com/chime/latest/ag/
/// use-bots.html): its webhooks take nothing any more, so a secret that asks for Chime is refused
/// with the formats there are instead of being retried until the deadline.
const CHIME_ENDED: &str = "Amazon Chime ended on 2026-02-20 (AWS ended the service)";

/// A `format` we cannot post in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Not a format we know. It echoes the value only when it looks like a format name: the value comes
    /// from the webhook secret, and a URL pasted into the wrong field must not reach a log line.
    Unknown(Option<String>),
    /// `chime`: the service is gone.
    Chime,
}

impl std::error::Error for FormatError {}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Unknown(Some(name)) => write!(f, "unknown webhook format {name:?}: expected {FORMATS}"),
            FormatError::Unknown(None) => write!(f, "unknown webhook format: expected {FORMATS}"),
            FormatError::Chime => write!(f, "format \"chime\": {CHIME_ENDED}; use {FORMATS} instead"),
        }
    }
}

impl FromStr for WebhookFormat {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim().to_ascii_lowercase();
        Ok(match name.as_str() {
            "slack" => WebhookFormat::Slack,
            "teams" | "msteams" => WebhookFormat::Teams,
            "chime" => return Err(FormatError::Chime),
            "discord" => WebhookFormat::Discord,
            "generic" | "json" => WebhookFormat::Generic,
            _ => {
                let plain = (1..=20).contains(&name.len())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                return Err(FormatError::Unknown(plain.then_some(name)));
            }
        })
    }
}

/// Why a secret's value is not a webhook. Never says what the value was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnusableSecret {
    #[error("the secret is empty")]
    Empty,
    #[error("the secret is JSON but has no string `url`")]
    NoUrl,
    #[error("the secret's URL does not parse as a URL")]
    NotAUrl,
    #[error("the secret's URL must use https (http only to localhost)")]
    NotHttps,
    #[error("the secret's {0}")]
    Format(FormatError),
    #[error("the secret's URL is an Amazon Chime webhook: {CHIME_ENDED}; use {FORMATS} instead")]
    Chime,
}

impl Webhook {
    /// The secret's value: a bare URL, or JSON `{"url": "...", "format": "slack"}`. A bare URL takes
    /// `default_format`, else the format its host says (hooks.slack.com: Slack…), else generic JSON.
    pub fn from_secret(value: &str, default_format: Option<WebhookFormat>) -> Result<Self, UnusableSecret> {
        let value = value.trim();
        if value.is_empty() {
            return Err(UnusableSecret::Empty);
        }
        let (url, format) = if value.starts_with('{') {
            // Parse errors are not shown: serde's messages can quote the input.
            let json: Value = serde_json::from_str(value).map_err(|_| UnusableSecret::NoUrl)?;
            let url = json.get("url").and_then(Value::as_str).ok_or(UnusableSecret::NoUrl)?;
            let format = match json.get("format").and_then(Value::as_str) {
                Some(name) => Some(name.parse().map_err(UnusableSecret::Format)?),
                None => default_format,
            };
            (url.trim().to_string(), format)
        } else {
            (value.to_string(), default_format)
        };
        let url = absolute_url(&url).ok_or(UnusableSecret::NotAUrl)?;
        if is_chime(&url) {
            return Err(UnusableSecret::Chime);
        }
        let local = matches!(url.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let scheme = url.scheme_str().unwrap_or_default().to_ascii_lowercase();
        if !(scheme == "https" || (scheme == "http" && local)) {
            return Err(UnusableSecret::NotHttps);
        }
        let format = format.unwrap_or_else(|| format_of_host(&url));
        Ok(Webhook { url, format })
    }

    /// POST `payload`, judged as [`Http::deliver`] judges (404: the webhook was deleted, 400: the
    /// payload was refused, neither retried).
    pub async fn post(&self, http: &Http, payload: &Value, budget: Duration) -> Result<u16, Failure<PostError>> {
        let request = Request {
            method: "POST",
            url: &self.url,
            content_type: "application/json",
            body: payload.to_string().into(),
        };
        // The error never holds the URL.
        http.deliver(request, budget).await.map_err(|failure| failure.map(PostError))
    }
}

/// Why a post failed, in the words of the alert's log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PostError(pub Undelivered);

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Undelivered::Status(status) => write!(f, "the webhook answered HTTP {status}"),
            Undelivered::Send(e) => write!(f, "the webhook could not be reached: {e}"),
        }
    }
}

/// An Amazon Chime incoming webhook: `hooks.chime.aws`, or a regional `hooks.<x>.chime.aws` (Chime admin
/// guide, "Amazon Chime events sent to chatbots", shows `hooks.a.chime.aws`).
fn is_chime(url: &Uri) -> bool {
    let host = url.host().unwrap_or_default().to_ascii_lowercase();
    host == "chime.aws" || host.ends_with(".chime.aws")
}

/// The chat service a bare URL belongs to, by its host.
fn format_of_host(url: &Uri) -> WebhookFormat {
    let host = url.host().unwrap_or_default().to_ascii_lowercase();
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if host == "hooks.slack.com" {
        WebhookFormat::Slack
    } else if under("webhook.office.com") || under("logic.azure.com") || under("powerplatform.com") {
        WebhookFormat::Teams
    } else if (under("discord.com") || under("discordapp.com")) && url.path().starts_with("/api/webhooks/") {
        WebhookFormat::Discord
    } else {
        WebhookFormat::Generic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WebhookFormat::*;

    const TOKEN: &str = "T000/B000/XXXXSECRETXXXX";

    #[test]
    fn secret_values() {
        let slack = format!("https://hooks.slack.com/services/{TOKEN}");
        let cases: Vec<(String, Option<WebhookFormat>, WebhookFormat)> = vec![
            (slack.clone(), None, Slack),
            (format!("  {slack}\n"), None, Slack),
            (slack.clone(), Some(Generic), Generic),
            ("https://acme.webhook.office.com/webhookb2/x".into(), None, Teams),
            ("https://prod-01.westus.logic.azure.com:443/workflows/x/triggers/manual".into(), None, Teams),
            ("https://discord.com/api/webhooks/1/abc".into(), None, Discord),
            ("https://discord.com/channels/1".into(), None, Generic),
            ("https://alerts.example.com/ecs".into(), None, Generic),
            (format!(r#"{{"url": "{slack}", "format": "discord"}}"#), Some(Teams), Discord),
            (format!(r#"{{"url": "{slack}"}}"#), Some(Teams), Teams),
        ];
        for (value, default, expected) in cases {
            let webhook = Webhook::from_secret(&value, default).unwrap();
            assert_eq!(webhook.format, expected, "{value}");
            assert!(!format!("{webhook:?}").contains("hooks"), "Debug hides the URL");
        }
    }

    #[test]
    fn unusable_secrets_are_named_without_their_value() {
        let cases: &[(&str, UnusableSecret)] = &[
            ("", UnusableSecret::Empty),
            ("{\"url\": 42}", UnusableSecret::NoUrl),
            ("{\"hook\": \"XXXXSECRETXXXX\"}", UnusableSecret::NoUrl),
            ("{XXXXSECRETXXXX", UnusableSecret::NoUrl),
            ("hooks.slack.com/services/XXXXSECRETXXXX", UnusableSecret::NotAUrl),
            ("http://hooks.slack.com/services/XXXXSECRETXXXX", UnusableSecret::NotHttps),
            ("ftp://XXXXSECRETXXXX", UnusableSecret::NotHttps),
        ];
        for (value, expected) in cases {
            let error = Webhook::from_secret(value, None).unwrap_err();
            assert_eq!(&error, expected, "{value}");
            assert!(!error.to_string().contains("XXXXSECRETXXXX"));
        }
        let bad_format =
            Webhook::from_secret(r#"{"url": "https://x.example", "format": "https://XXXXSECRETXXXX"}"#, None);
        assert!(bad_format.is_err_and(|e| !e.to_string().contains("XXXXSECRETXXXX")));
    }

    #[test]
    fn formats_parse_case_insensitively() {
        #[rustfmt::skip]
        let cases = [
            ("slack", Ok(WebhookFormat::Slack)), ("Slack", Ok(WebhookFormat::Slack)),
            (" TEAMS ", Ok(WebhookFormat::Teams)), ("MSTeams", Ok(WebhookFormat::Teams)),
            ("Discord", Ok(WebhookFormat::Discord)),
            ("generic", Ok(WebhookFormat::Generic)), ("JSON", Ok(WebhookFormat::Generic)),
            ("chime", Err(FormatError::Chime)), (" Chime ", Err(FormatError::Chime)),
            ("mattermost", Err(FormatError::Unknown(Some("mattermost".into())))),
            ("", Err(FormatError::Unknown(None))),
            ("https://hooks.slack.com/services/T0/B0/secret", Err(FormatError::Unknown(None))),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<WebhookFormat>(), want, "{text:?}");
        }
        let err = "https://hooks.slack.com/services/T0/B0/secret".parse::<WebhookFormat>().unwrap_err();
        assert!(!err.to_string().contains("hooks"), "{err}");
        assert!("Mattermost".parse::<WebhookFormat>().unwrap_err().to_string().contains("\"mattermost\""));
    }

    /// Every way a secret can ask for Amazon Chime is refused in one line that says it ended and names
    /// the formats to use instead, never the URL.
    #[test]
    fn chime_is_refused_with_the_alternatives() {
        let chime_url = "https://hooks.chime.aws/incomingwebhooks/a1b2?token=XXXXSECRETXXXX";
        #[rustfmt::skip]
        let cases: Vec<(String, Option<WebhookFormat>, UnusableSecret)> = vec![
            // a bare Chime URL, whatever the default format
            (chime_url.into(), None, UnusableSecret::Chime),
            (chime_url.into(), Some(Slack), UnusableSecret::Chime),
            ("https://hooks.a.chime.aws/incomingwebhooks/a1b2?token=XXXXSECRETXXXX".into(), None, UnusableSecret::Chime),
            ("https://HOOKS.CHIME.AWS/incomingwebhooks/a1b2?token=XXXXSECRETXXXX".into(), None, UnusableSecret::Chime),
            // JSON naming the format, or holding a Chime URL under another format
            (r#"{"url": "https://x.example/XXXXSECRETXXXX", "format": "chime"}"#.into(), None,
             UnusableSecret::Format(FormatError::Chime)),
            (r#"{"url": "http://127.0.0.1:8080/XXXXSECRETXXXX", "format": "Chime"}"#.into(), Some(Teams),
             UnusableSecret::Format(FormatError::Chime)),
            (format!(r#"{{"url": "{chime_url}", "format": "slack"}}"#), None, UnusableSecret::Chime),
        ];
        for (value, default, expected) in cases {
            let error = Webhook::from_secret(&value, default).unwrap_err();
            assert_eq!(error, expected, "{value}");
            let message = error.to_string();
            for needle in ["Amazon Chime ended on 2026-02-20", "use slack, teams, discord or generic instead"] {
                assert!(message.contains(needle), "{value}: {message}");
            }
            assert!(!message.contains("XXXXSECRETXXXX") && !message.contains("hooks") && !message.contains('\n'));
        }
        // `WEBHOOK_FORMAT=chime` parses to the same error (config.rs names the variable).
        let format = "chime".parse::<WebhookFormat>().unwrap_err().to_string();
        assert_eq!(
            format,
            "format \"chime\": Amazon Chime ended on 2026-02-20 (AWS ended the service); use slack, teams, discord or generic instead"
        );
        // A host that only looks like Chime's is not Chime.
        let lookalike = Webhook::from_secret("https://hooks.chime.aws.example.com/x", None).unwrap();
        assert_eq!(lookalike.format, Generic);
    }
}
