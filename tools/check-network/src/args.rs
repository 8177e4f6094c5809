//! The command line, parsed into what to read and what to check. Pure, table-tested.

use std::net::IpAddr;

use endpoint_access::properties::is_short_service_name;
use ipnet::IpNet;
use shared::aws::is_id;

use crate::error::CheckError;
use crate::model::{Destination, GroupDestination};

pub const USAGE: &str = "\
check-network: can this ECS service's tasks reach what they need?

usage:
  check-network --cluster C --service S [options]
  check-network --subnets subnet-…[,…] --security-groups sg-…[,…] [--vpc vpc-…] [--assign-public-ip] [options]

options:
  --services a,b             more services to reach (short names: secretsmanager, kms, sts …); without
                             --service, the services checked (default ecr.api,ecr.dkr,logs,s3)
  --to CIDR|IP[:port]        a destination: the route from each subnet and the tasks' egress (repeatable)
  --to-security-group sg-…[:port]
                             a destination's group: which task group its inbound rules let in, and
                             the tasks' egress to it (repeatable)
  --format text|json         one line per finding (default), or one JSON document
  -h, --help

Region, credentials and endpoint come from the usual AWS settings (AWS_REGION, AWS_PROFILE,
AWS_ENDPOINT_URL …). Exit status: 0 all reachable, 1 something missing, 2 bad input or no check.";

/// Where the tasks' network comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An ECS service: its awsvpc configuration and its task definition's needs.
    Service { cluster: String, service: String },
    /// A task not in a service: its subnets and groups as given.
    Vpc { vpc_id: Option<String>, subnets: Vec<String>, security_groups: Vec<String>, public_ip: Option<bool> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub source: Source,
    /// `--services`, as given (empty when not given).
    pub services: Vec<String>,
    pub to: Vec<Destination>,
    pub to_groups: Vec<GroupDestination>,
    pub format: Format,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Config),
    Help,
}

fn usage(message: impl Into<String>) -> CheckError {
    CheckError::Usage(message.into())
}

/// Parse the arguments (without the program name). `--flag value` and `--flag=value` both work;
/// lists are comma-separated and the list options repeatable.
pub fn parse(args: &[String]) -> Result<Parsed, CheckError> {
    let mut cluster = None;
    let mut service = None;
    let mut vpc_id = None;
    let (mut subnets, mut groups, mut services) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to, mut to_groups) = (Vec::new(), Vec::new());
    let mut public_ip = None;
    let mut format = Format::Text;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value =
            || inline.clone().or_else(|| rest.next().cloned()).ok_or_else(|| usage(format!("{flag} needs a value")));
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--cluster" => cluster = Some(value()?),
            "--service" => service = Some(value()?),
            "--vpc" => vpc_id = Some(id(&value()?, "vpc-", "--vpc")?),
            "--subnets" => subnets.extend(ids(&value()?, "subnet-", "--subnets")?),
            "--security-groups" => groups.extend(ids(&value()?, "sg-", "--security-groups")?),
            "--assign-public-ip" => public_ip = Some(true),
            "--services" => {
                for name in split(&value()?) {
                    if !is_short_service_name(&name) {
                        return Err(usage(format!(
                            "--services: `{name}` is not a short service name such as ecr.api or secretsmanager"
                        )));
                    }
                    services.push(name);
                }
            }
            "--to" => to.push(destination(&value()?)?),
            "--to-security-group" => to_groups.push(group_destination(&value()?)?),
            "--format" => {
                format = match value()?.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    other => return Err(usage(format!("--format: `{other}` is neither text nor json"))),
                }
            }
            other => return Err(usage(format!("unknown argument `{other}`"))),
        }
    }
    let by_hand = vpc_id.is_some() || !subnets.is_empty() || !groups.is_empty() || public_ip.is_some();
    let source = match (cluster, service) {
        (Some(_), Some(_)) if by_hand => {
            return Err(usage("give --cluster and --service, or --subnets and --security-groups, not both"));
        }
        (Some(cluster), Some(service)) => Source::Service { cluster, service },
        (Some(_), None) | (None, Some(_)) => return Err(usage("--cluster and --service go together")),
        (None, None) if subnets.is_empty() || groups.is_empty() => {
            return Err(usage("give --cluster and --service, or --subnets and --security-groups"));
        }
        (None, None) => Source::Vpc { vpc_id, subnets, security_groups: groups, public_ip },
    };
    Ok(Parsed::Run(Config { source, services, to, to_groups, format }))
}

fn split(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn id(text: &str, prefix: &str, flag: &str) -> Result<String, CheckError> {
    if is_id(text, prefix) {
        Ok(text.to_string())
    } else {
        Err(usage(format!("{flag}: `{text}` is not an id such as {prefix}0123456789abcdef0")))
    }
}

fn ids(list: &str, prefix: &str, flag: &str) -> Result<Vec<String>, CheckError> {
    split(list).iter().map(|one| id(one, prefix, flag)).collect()
}

fn port(text: &str, flag: &str) -> Result<u16, CheckError> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(usage(format!("{flag}: port `{text}` is not 1 to 65535"))),
    }
}

/// `10.1.0.0/16`, `10.1.2.3`, either with `:port`; IPv6 in brackets when with a port
/// (`[2001:db8::/32]:443`).
pub fn destination(text: &str) -> Result<Destination, CheckError> {
    let (address, port_text) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(|| usage(format!("--to: `{text}` lacks its `]`")))?;
        (inside, after.strip_prefix(':'))
    } else if text.matches(':').count() == 1 {
        let (a, p) = text.split_once(':').unwrap_or((text, ""));
        (a, Some(p))
    } else {
        (text, None)
    };
    let net = address
        .parse::<IpNet>()
        .or_else(|_| address.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| usage(format!("--to: `{address}` is not a CIDR block or an IP address")))?;
    let port = port_text.map(|p| port(p, "--to")).transpose()?;
    Ok(Destination { net: net.trunc(), port })
}

/// `sg-…` or `sg-…:port`.
pub fn group_destination(text: &str) -> Result<GroupDestination, CheckError> {
    let (group, port_text) = match text.split_once(':') {
        Some((g, p)) => (g, Some(p)),
        None => (text, None),
    };
    let group_id = id(group, "sg-", "--to-security-group")?;
    let port = port_text.map(|p| port(p, "--to-security-group")).transpose()?;
    Ok(GroupDestination { group_id, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Parsed, String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args).map_err(|e| e.to_string())
    }

    fn by_hand(subnets: &[&str], groups: &[&str]) -> Source {
        Source::Vpc {
            vpc_id: None,
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            security_groups: groups.iter().map(|s| s.to_string()).collect(),
            public_ip: None,
        }
    }

    #[test]
    fn parse_table() {
        let run = |source, services: &[&str], to, to_groups, format| {
            Ok(Parsed::Run(Config {
                source,
                services: services.iter().map(|s| s.to_string()).collect(),
                to,
                to_groups,
                format,
            }))
        };
        let service = Source::Service { cluster: "prod".into(), service: "web".into() };
        let dest = |net: &str, port| Destination { net: net.parse().unwrap(), port };
        let cases: Vec<(&str, Result<Parsed, String>)> = vec![
            ("--cluster prod --service web", run(service.clone(), &[], vec![], vec![], Format::Text)),
            (
                "--cluster=prod --service=web --services kms,sts --format json",
                run(service.clone(), &["kms", "sts"], vec![], vec![], Format::Json),
            ),
            (
                "--subnets subnet-0a1b2c3d,subnet-0a1b2c3e --security-groups sg-0a1b2c3d --to 10.1.2.3:5432 --to 10.2.0.0/16",
                run(
                    by_hand(&["subnet-0a1b2c3d", "subnet-0a1b2c3e"], &["sg-0a1b2c3d"]),
                    &[],
                    vec![dest("10.1.2.3/32", Some(5432)), dest("10.2.0.0/16", None)],
                    vec![],
                    Format::Text,
                ),
            ),
            (
                "--subnets subnet-0a1b2c3d --security-groups sg-0a1b2c3d --to-security-group sg-0f0f0f0f:2049",
                run(
                    by_hand(&["subnet-0a1b2c3d"], &["sg-0a1b2c3d"]),
                    &[],
                    vec![],
                    vec![GroupDestination { group_id: "sg-0f0f0f0f".into(), port: Some(2049) }],
                    Format::Text,
                ),
            ),
            ("--help", Ok(Parsed::Help)),
            ("--cluster prod", Err("--cluster and --service go together; see check-network --help".into())),
            ("", Err("give --cluster and --service, or --subnets and --security-groups; see check-network --help".into())),
            (
                "--cluster prod --service web --subnets subnet-0a1b2c3d",
                Err("give --cluster and --service, or --subnets and --security-groups, not both; see check-network --help".into()),
            ),
            (
                "--subnets subnet-1 --security-groups sg-0a1b2c3d",
                Err("--subnets: `subnet-1` is not an id such as subnet-0123456789abcdef0; see check-network --help".into()),
            ),
            (
                "--cluster prod --service web --services com.amazonaws.us-east-1.logs",
                Err("--services: `com.amazonaws.us-east-1.logs` is not a short service name such as ecr.api or secretsmanager; see check-network --help".into()),
            ),
            ("--cluster prod --service web --to 10.0.0.0/33", Err("--to: `10.0.0.0/33` is not a CIDR block or an IP address; see check-network --help".into())),
            ("--cluster prod --service web --to 10.0.0.1:0", Err("--to: port `0` is not 1 to 65535; see check-network --help".into())),
            ("--cluster prod --service web --format yaml", Err("--format: `yaml` is neither text nor json; see check-network --help".into())),
            ("--cluster prod --service", Err("--service needs a value; see check-network --help".into())),
            ("--cluster prod --service web --verbose", Err("unknown argument `--verbose`; see check-network --help".into())),
        ];
        for (line, expected) in cases {
            assert_eq!(parsed(line), expected, "{line}");
        }
    }

    #[test]
    fn destination_table() {
        let cases: Vec<(&str, &str, Option<u16>)> = vec![
            ("10.1.2.3", "10.1.2.3/32", None),
            ("10.1.2.3/16:443", "10.1.0.0/16", Some(443)),
            ("2001:db8::1", "2001:db8::1/128", None),
            ("[2001:db8::/32]:5432", "2001:db8::/32", Some(5432)),
        ];
        for (text, net, port) in cases {
            assert_eq!(destination(text).unwrap(), Destination { net: net.parse().unwrap(), port }, "{text}");
        }
    }
}
