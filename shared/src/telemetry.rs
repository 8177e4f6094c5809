//! Logging as Lambda users expect it: the format and level that the function's logging
//! configuration sets (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`), or `RUST_LOG`; without
//! them, JSON lines (CloudWatch Logs Insights reads the fields), or plain text when
//! `LOG_FORMAT=plain` (local runs and tests). The SDK's and the HTTP stack's own chatter stays
//! quiet whatever the level.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{Directive, LevelFilter};

/// The SDK's own info lines (credential and endpoint resolution) are noise in every invocation,
/// and so are the HTTP stack's debug lines. Never more verbose than `warn`.
const NOISY: &[&str] = &["aws_config", "aws_smithy_runtime", "aws_runtime", "hyper", "hyper_util", "h2", "rustls"];

/// The runtime's panic layer logs every handler error a second time, in Debug form, after the
/// function's own one line (a panic still prints through the panic hook).
const PANIC_LAYER_OFF: &str = "lambda_runtime::layers::panic=off";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Text,
}

/// How the function logs: the line format and the `EnvFilter` directives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logging {
    format: Format,
    filter: String,
}

impl Logging {
    /// The decision, from the variables `lookup` answers. It follows the order of the
    /// `lambda_runtime` crate's own subscriber (lambda_runtime_api_client 1.1.1,
    /// `tracing::init_default_subscriber_with_writer`):
    /// - format: JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (any case), text for any other value
    ///   it has (`Text`). Where it is unset, this project's default: JSON, text if `LOG_FORMAT=plain`.
    /// - level: it reads `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, as one level, the default
    ///   directive of an `EnvFilter` built `from_env_lossy()`, which reads `RUST_LOG`'s directives
    ///   too; a filter that has directives does not use its default. So, in effect: `RUST_LOG`'s
    ///   valid directives; else the level `AWS_LAMBDA_LOG_LEVEL` names (an unknown one: INFO);
    ///   else INFO. (Its doc comment says `AWS_LAMBDA_LOG_LEVEL` comes first; its code, followed
    ///   here, does not.) `FATAL`, which tracing lacks, is its nearest level: `error`.
    ///
    /// The noise filter comes first in every case, so `RUST_LOG` can still name a noisy target.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let env = crate::env::Env::new(lookup);
        let format = match env.optional("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) if format.eq_ignore_ascii_case("json") => Format::Json,
            Some(_) => Format::Text,
            None if env.optional("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("plain")) => Format::Text,
            None => Format::Json,
        };
        let rust_log: Vec<String> = env
            .optional("RUST_LOG")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && d.parse::<Directive>().is_ok())
            .map(str::to_string)
            .collect();
        let filter = if rust_log.is_empty() {
            let level = env.optional("AWS_LAMBDA_LOG_LEVEL").map_or(LevelFilter::INFO, |v| lambda_level(&v));
            format!("{},{}", level_name(level), quiet(level))
        } else {
            // Its last bare level (`warn` in `warn,my_crate=debug`) is the level of the rest.
            let level = rust_log.iter().rev().find_map(|d| d.parse::<LevelFilter>().ok());
            format!("{},{}", quiet(level.unwrap_or(LevelFilter::WARN)), rust_log.join(","))
        };
        Logging { format, filter }
    }
}

/// One of Lambda's application log levels (TRACE, DEBUG, INFO, WARN, ERROR, FATAL); unknown: INFO.
fn lambda_level(name: &str) -> LevelFilter {
    if name.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    name.parse().unwrap_or(LevelFilter::INFO)
}

fn level_name(level: LevelFilter) -> String {
    level.to_string().to_ascii_lowercase()
}

/// The noisy targets at `warn`, or at `level` when that is quieter.
fn quiet(level: LevelFilter) -> String {
    let level = level_name(level.min(LevelFilter::WARN));
    let mut directives: Vec<String> = NOISY.iter().map(|target| format!("{target}={level}")).collect();
    directives.push(PANIC_LAYER_OFF.to_string());
    directives.join(",")
}

pub fn init() {
    let logging = Logging::from_lookup(crate::env::process);
    let builder = tracing_subscriber::fmt().with_env_filter(EnvFilter::new(&logging.filter)).with_target(false);
    // try_init: a second call (tests, a function that calls it twice) is harmless.
    let _ = match logging.format {
        Format::Text => builder.with_ansi(false).try_init(),
        Format::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logging(vars: &[(&str, &str)]) -> Logging {
        Logging::from_lookup(crate::env::pairs(vars))
    }

    const QUIET_WARN: &str = "aws_config=warn,aws_smithy_runtime=warn,aws_runtime=warn,hyper=warn,hyper_util=warn,h2=warn,rustls=warn,lambda_runtime::layers::panic=off";

    #[test]
    fn the_format() {
        let cases: &[(&[(&str, &str)], Format)] = &[
            (&[], Format::Json),
            (&[("LOG_FORMAT", "plain")], Format::Text),
            (&[("LOG_FORMAT", "json")], Format::Json),
            (&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], Format::Json),
            (&[("AWS_LAMBDA_LOG_FORMAT", "Text")], Format::Text),
            (&[("AWS_LAMBDA_LOG_FORMAT", "json"), ("LOG_FORMAT", "plain")], Format::Json),
            (&[("AWS_LAMBDA_LOG_FORMAT", "Text"), ("LOG_FORMAT", "json")], Format::Text),
            (&[("AWS_LAMBDA_LOG_FORMAT", " "), ("LOG_FORMAT", "plain")], Format::Text),
        ];
        for (vars, format) in cases {
            assert_eq!(logging(vars).format, *format, "{vars:?}");
        }
    }

    #[test]
    fn the_filter_always_quiets_the_noise() {
        let quiet = |level: &str| QUIET_WARN.replace("=warn", &format!("={level}"));
        let cases: &[(&[(&str, &str)], String)] = &[
            (&[], format!("info,{QUIET_WARN}")),
            (&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")], format!("debug,{QUIET_WARN}")),
            (&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")], format!("trace,{QUIET_WARN}")),
            (&[("AWS_LAMBDA_LOG_LEVEL", "WARN")], format!("warn,{QUIET_WARN}")),
            (&[("AWS_LAMBDA_LOG_LEVEL", "ERROR")], format!("error,{}", quiet("error"))),
            (&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")], format!("error,{}", quiet("error"))),
            (&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")], format!("info,{QUIET_WARN}")),
            // RUST_LOG's directives win, as in lambda_runtime; they come after the noise filter.
            (&[("AWS_LAMBDA_LOG_LEVEL", "ERROR"), ("RUST_LOG", "debug")], format!("{QUIET_WARN},debug")),
            (&[("RUST_LOG", "error,task_alerts=debug")], format!("{},error,task_alerts=debug", quiet("error"))),
            (&[("RUST_LOG", "aws_config=debug")], format!("{QUIET_WARN},aws_config=debug")),
            // No valid directive: as if unset.
            (&[("RUST_LOG", "=,"), ("AWS_LAMBDA_LOG_LEVEL", "debug")], format!("debug,{QUIET_WARN}")),
        ];
        for (vars, filter) in cases {
            assert_eq!(&logging(vars).filter, filter, "{vars:?}");
            assert!(filter.parse::<EnvFilter>().is_ok(), "{filter}");
        }
    }
}
