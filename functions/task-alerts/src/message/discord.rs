//! The Discord execute-webhook payload.

use serde_json::{Value, json};

use super::Alert;
use super::text::{cut, fit, keep, units};

/// Discord "Execute Webhook" (discord.com/developers/docs/resources/webhook#execute-webhook; the same numbers
/// in Discord's OpenAPI-derived schemas and Sapphire's `EmbedLimits`): `content` <= 2000
/// characters, <= 10 embeds; embed limits (…/resources/message#embed-object-embed-limits): title 256,
/// description 4096, <= 25 fields, field name 256, field value 1024, and 6000 across one message's embeds.
pub(super) const DISCORD_CONTENT_MAX: usize = 2000;
pub(super) const DISCORD_TITLE_MAX: usize = 256;
pub(super) const DISCORD_DESCRIPTION_MAX: usize = 4096;
pub(super) const DISCORD_FIELDS_MAX: usize = 25;
pub(super) const DISCORD_FIELD_NAME_MAX: usize = 256;
pub(super) const DISCORD_FIELD_VALUE_MAX: usize = 1024;
pub(super) const DISCORD_EMBEDS_TOTAL_MAX: usize = 6000;

impl Alert {
    /// Discord execute-webhook body: the title as `content`, one embed, and no mentions parsed (a verbatim
    /// reason saying `@everyone` must not ping anyone).
    pub fn discord(&self) -> Value {
        let title = self.title();
        let embed_title = cut(&title, DISCORD_TITLE_MAX);
        // The log lines in a field of their own, a code block with any fence in a line broken.
        let log_field = (!self.log_lines.is_empty()).then(|| {
            let (head, tail) = ("```\n", "\n```");
            let room = DISCORD_FIELD_VALUE_MAX - units(head) - units(tail);
            let lines = self.log_text(room, |line, max| cut(&line.replace("```", "'''"), max));
            ("Last log lines".to_string(), format!("{head}{lines}{tail}"))
        });
        let fields: Vec<(String, String)> = self
            .details()
            .into_iter()
            .take(DISCORD_FIELDS_MAX - usize::from(log_field.is_some()))
            .map(|(label, value)| (cut(label, DISCORD_FIELD_NAME_MAX), cut(&value, DISCORD_FIELD_VALUE_MAX)))
            .collect();
        let used = units(&embed_title)
            + fields.iter().chain(&log_field).map(|(name, value)| units(name) + units(value)).sum::<usize>();
        let description_max = DISCORD_DESCRIPTION_MAX.min(DISCORD_EMBEDS_TOTAL_MAX.saturating_sub(used));

        let head = format!("{}\n\n**Fix:** {}\n\n**Evidence**\n```\n", self.summary_text(), self.hint);
        let links: Vec<String> = self.links().iter().map(|(label, url)| format!("[{label}]({url})")).collect();
        let tail = format!("\n```\n{}", links.join("\n"));
        let evidence = self.evidence_text(DISCORD_DESCRIPTION_MAX).replace("```", "'''");
        let description = fit(&head, &evidence, tail.trim_end(), description_max, keep);

        let mut fields: Vec<Value> =
            fields.into_iter().map(|(name, value)| json!({"name": name, "value": value, "inline": true})).collect();
        fields.extend(log_field.map(|(name, value)| json!({"name": name, "value": value, "inline": false})));
        let mut embed = json!({"title": embed_title, "description": description, "color": 0xD13438, "fields": fields});
        if let Some(url) = &self.console_url {
            embed["url"] = json!(url);
        }
        json!({"content": cut(&title, DISCORD_CONTENT_MAX), "embeds": [embed], "allowed_mentions": {"parse": []}})
    }
}
