//! Step 2 of parsing: a resource's typed properties, as CloudFormation sends them.
//!
//! Each resource type has one struct with `#[serde(deny_unknown_fields)]` (and no `flatten`,
//! which hides the field names this module reads). CloudFormation passes every scalar as a
//! string, so numbers and booleans use the [`cfn`] helpers, which accept both forms.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;

/// Properties CloudFormation or Lambda add to every request; never the resource's business.
const IGNORED: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    #[error("unknown property `{name}`{}", did_you_mean(*.suggestion))]
    Unknown { name: String, suggestion: Option<&'static str> },
    #[error("missing required property `{name}`")]
    Missing { name: String },
    #[error("property `{path}`: {message}")]
    Invalid { path: String, message: String },
    #[error("the properties are not a JSON object")]
    NotAnObject,
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
}

/// Parse `ResourceProperties` (or `OldResourceProperties`) into the resource's struct.
pub fn parse<P: DeserializeOwned>(raw: &Value) -> Result<P, PropertiesError> {
    let mut props = raw.as_object().cloned().ok_or(PropertiesError::NotAnObject)?;
    for key in IGNORED {
        props.remove(key);
    }
    // Checked before serde so the message can name the property meant.
    let known = field_names::<P>();
    if !known.is_empty()
        && let Some(name) = props.keys().find(|k| !known.contains(&k.as_str()))
    {
        return Err(PropertiesError::Unknown { name: name.clone(), suggestion: closest(name, known) });
    }
    serde_path_to_error::deserialize(Value::Object(props)).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            let name = if path == "." { field.to_string() } else { format!("{path}.{field}") };
            return PropertiesError::Missing { name };
        }
        PropertiesError::Invalid { path, message: crate::text::collapse_whitespace(&message) }
    })
}

/// The closest known name, if any is close enough to be what the user meant.
fn closest(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (*k, strsim::jaro_winkler(&lower, &k.to_ascii_lowercase())))
        .filter(|(_, score)| *score >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
}

/// The field names a derived `Deserialize` struct declares (after renames), read by asking it
/// to deserialize from a deserializer that only records what `deserialize_struct` is told.
fn field_names<P: DeserializeOwned>() -> &'static [&'static str] {
    struct Recorder(&'static [&'static str]);
    impl<'de> Deserializer<'de> for &mut Recorder {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(de::Error::custom("recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut recorder = Recorder(&[]);
    let _ = P::deserialize(&mut recorder);
    recorder.0
}

/// `deserialize_with` helpers for CloudFormation's stringly typed scalars.
pub mod cfn {
    use serde::Deserialize;
    use serde::de::{DeserializeOwned, Deserializer, Error};
    use serde_json::Value;
    use std::fmt::Display;
    use std::str::FromStr;

    /// `"443"` or `443`, `"true"` or `true`.
    pub fn scalar<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + DeserializeOwned,
        T::Err: Display,
    {
        read(Value::deserialize(d)?).map_err(D::Error::custom)
    }

    /// As [`scalar`], for an optional property (use with `#[serde(default)]`).
    pub fn opt_scalar<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + DeserializeOwned,
        T::Err: Display,
    {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => read(v).map(Some).map_err(D::Error::custom),
        }
    }

    /// A list of scalars, each in either form: `["80", 443]`.
    pub fn scalar_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + DeserializeOwned,
        T::Err: Display,
    {
        match Value::deserialize(d)? {
            Value::Array(items) => items.into_iter().map(read).collect::<Result<_, _>>().map_err(D::Error::custom),
            other => Err(D::Error::custom(format!("expected a list, got {}", kind(&other)))),
        }
    }

    fn read<T>(value: Value) -> Result<T, String>
    where
        T: FromStr + DeserializeOwned,
        T::Err: Display,
    {
        let expected = expected::<T>();
        match value {
            Value::String(s) => {
                let s = s.trim();
                // "True" is as clear as "true"; FromStr for bool accepts only the latter.
                s.parse::<T>()
                    .or_else(|_| s.to_ascii_lowercase().parse::<T>())
                    .map_err(|_| format!("expected {expected}, got `{}`", crate::text::collapse_whitespace(s)))
            }
            v @ (Value::Number(_) | Value::Bool(_)) => {
                let shown = v.to_string();
                serde_json::from_value(v).map_err(|_| format!("expected {expected}, got {shown}"))
            }
            other => Err(format!("expected {expected}, got {}", kind(&other))),
        }
    }

    fn expected<T>() -> &'static str {
        match std::any::type_name::<T>() {
            "bool" => "true or false",
            "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)",
            "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
            "f32" | "f64" => "a number",
            _ => "a valid value",
        }
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    struct Props {
        route_table_ids: Vec<String>,
        #[serde(deserialize_with = "cfn::scalar")]
        port: u16,
        #[serde(default, deserialize_with = "cfn::opt_scalar")]
        enable_dns: Option<bool>,
        #[serde(default, deserialize_with = "cfn::scalar_list")]
        ports: Vec<u16>,
    }

    fn props(port: Value, dns: Option<Value>) -> Props {
        Props {
            route_table_ids: vec!["rtb-1".into()],
            port: serde_json::from_value(port).unwrap(),
            enable_dns: dns.map(|d| serde_json::from_value(d).unwrap()),
            ports: vec![],
        }
    }

    #[test]
    fn field_names_are_the_renamed_ones() {
        assert_eq!(field_names::<Props>(), ["RouteTableIds", "Port", "EnableDns", "Ports"]);
        assert!(field_names::<String>().is_empty());
    }

    #[test]
    fn parse_table() {
        let base = || json!({"ServiceToken": "arn:aws:lambda:us-east-1:1:function:f", "RouteTableIds": ["rtb-1"], "Port": "443"});
        let set = |mut v: Value, k: &str, x: Value| {
            v[k] = x;
            v
        };
        let drop = |mut v: Value, k: &str| {
            v.as_object_mut().unwrap().remove(k);
            v
        };
        let ok = |p: Props| Ok::<Props, PropertiesError>(p);
        let invalid =
            |path: &str, message: &str| Err(PropertiesError::Invalid { path: path.into(), message: message.into() });
        let cases: Vec<(&str, Value, Result<Props, PropertiesError>)> = vec![
            ("string number", base(), ok(props(json!(443), None))),
            ("JSON number", set(base(), "Port", json!(443)), ok(props(json!(443), None))),
            ("padded string", set(base(), "Port", json!(" 443 ")), ok(props(json!(443), None))),
            ("string bool", set(base(), "EnableDns", json!("true")), ok(props(json!(443), Some(json!(true))))),
            ("capital bool", set(base(), "EnableDns", json!("False")), ok(props(json!(443), Some(json!(false))))),
            ("JSON bool", set(base(), "EnableDns", json!(true)), ok(props(json!(443), Some(json!(true))))),
            ("ServiceTimeout ignored", set(base(), "ServiceTimeout", json!("120")), ok(props(json!(443), None))),
            (
                "list of mixed scalars",
                set(base(), "Ports", json!(["80", 443])),
                ok(Props { ports: vec![80, 443], ..props(json!(443), None) }),
            ),
            (
                "unknown, close to a known one",
                set(base(), "RouteTableId", json!("rtb-1")),
                Err(PropertiesError::Unknown { name: "RouteTableId".into(), suggestion: Some("RouteTableIds") }),
            ),
            (
                "unknown, wrong case",
                set(base(), "port", json!("1")),
                Err(PropertiesError::Unknown { name: "port".into(), suggestion: Some("Port") }),
            ),
            (
                "unknown, nothing close",
                set(base(), "Colour", json!("blue")),
                Err(PropertiesError::Unknown { name: "Colour".into(), suggestion: None }),
            ),
            (
                "missing required",
                drop(base(), "RouteTableIds"),
                Err(PropertiesError::Missing { name: "RouteTableIds".into() }),
            ),
            (
                "word for a number",
                set(base(), "Port", json!("https")),
                invalid("Port", "expected a whole number (0 or more), got `https`"),
            ),
            (
                "number out of range",
                set(base(), "Port", json!("70000")),
                invalid("Port", "expected a whole number (0 or more), got `70000`"),
            ),
            (
                "negative JSON number",
                set(base(), "Port", json!(-1)),
                invalid("Port", "expected a whole number (0 or more), got -1"),
            ),
            (
                "list for a number",
                set(base(), "Port", json!(["443"])),
                invalid("Port", "expected a whole number (0 or more), got a list"),
            ),
            (
                "word for a bool",
                set(base(), "EnableDns", json!("yes")),
                invalid("EnableDns", "expected true or false, got `yes`"),
            ),
            (
                "string for a list",
                set(base(), "RouteTableIds", json!("rtb-1")),
                invalid("RouteTableIds", "invalid type: string \"rtb-1\", expected a sequence"),
            ),
            (
                "bad list item",
                set(base(), "Ports", json!(["80", "x"])),
                invalid("Ports", "expected a whole number (0 or more), got `x`"),
            ),
            ("not an object", json!("Port=443"), Err(PropertiesError::NotAnObject)),
        ];
        for (case, raw, expected) in cases {
            assert_eq!(parse::<Props>(&raw), expected, "{case}");
        }
    }

    #[test]
    fn messages_read_as_one_line() {
        let unknown = PropertiesError::Unknown { name: "RouteTableId".into(), suggestion: Some("RouteTableIds") };
        assert_eq!(unknown.to_string(), "unknown property `RouteTableId`; did you mean `RouteTableIds`?");
        let missing = PropertiesError::Missing { name: "PeerVpcId".into() };
        assert_eq!(missing.to_string(), "missing required property `PeerVpcId`");
    }
}
