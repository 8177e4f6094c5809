//! Seeding EC2 in moto and reading it back, for tests and the demo (straight to moto, so the
//! proxy counts only the functions' calls).

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{AttributeBooleanValue, Route};

use crate::Aws;

/// A CIDR block as AWS spells it (moto keeps leading zeros in IPv6 blocks).
pub fn canonical(cidr: &str) -> String {
    cidr.parse::<ipnet::IpNet>().map(|n| n.to_string()).unwrap_or_else(|_| cidr.to_string())
}

/// A VPC with DNS support and hostnames on (or off), secondary blocks, and an IPv6 block.
pub struct Vpc {
    pub id: String,
    pub cidrs: Vec<String>,
}

pub fn vpc(aws: &Aws, ec2: &Ec2, primary: &str, secondary: &[&str], dns: bool) -> Vpc {
    let created =
        aws.block_on(ec2.create_vpc().cidr_block(primary).amazon_provided_ipv6_cidr_block(true).send()).unwrap();
    let id = created.vpc().unwrap().vpc_id().unwrap().to_string();
    for block in secondary {
        aws.block_on(ec2.associate_vpc_cidr_block().vpc_id(&id).cidr_block(*block).send()).unwrap();
    }
    let flag = AttributeBooleanValue::builder().value(dns).build();
    aws.block_on(ec2.modify_vpc_attribute().vpc_id(&id).enable_dns_support(flag.clone()).send()).unwrap();
    aws.block_on(ec2.modify_vpc_attribute().vpc_id(&id).enable_dns_hostnames(flag).send()).unwrap();
    let described = aws.block_on(ec2.describe_vpcs().vpc_ids(&id).send()).unwrap();
    let v = &described.vpcs()[0];
    let mut cidrs: Vec<String> =
        v.cidr_block_association_set().iter().filter_map(|a| a.cidr_block()).map(canonical).collect();
    cidrs.extend(v.ipv6_cidr_block_association_set().iter().filter_map(|a| a.ipv6_cidr_block()).map(canonical));
    Vpc { id, cidrs }
}

pub fn table(aws: &Aws, ec2: &Ec2, vpc: &Vpc) -> String {
    aws.block_on(ec2.create_route_table().vpc_id(&vpc.id).send())
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_string()
}

/// An internet gateway on `vpc`, sending `destination` there from `table` (someone else's route).
pub fn route_to_gateway(aws: &Aws, ec2: &Ec2, vpc: &Vpc, table: &str, destination: &str) -> String {
    let igw = aws
        .block_on(ec2.create_internet_gateway().send())
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    aws.block_on(ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc.id).send()).unwrap();
    aws.block_on(ec2.create_route().route_table_id(table).destination_cidr_block(destination).gateway_id(&igw).send())
        .unwrap();
    igw
}

/// The routes of `table` as (destination, target), the local ones left out.
pub fn routes(aws: &Aws, ec2: &Ec2, table: &str) -> Vec<(String, String)> {
    let out = aws.block_on(ec2.describe_route_tables().route_table_ids(table).send()).unwrap();
    let target = |r: &Route| r.vpc_peering_connection_id().or(r.gateway_id()).unwrap_or("?").to_string();
    let mut all: Vec<(String, String)> = out.route_tables()[0]
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .map(|r| (canonical(r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).unwrap_or("?")), target(r)))
        .collect();
    all.sort();
    all
}

/// The proxy's AWS-realism rules for peering (see `tests/servers/realism.py`): a new connection
/// reads NotFound twice per action and region, the accepter's region lags two describes behind,
/// and the first describe in each region carries no CIDR blocks. `PEERING_REALISM='{"accepter_lag": 2}'`
/// runs the scenarios under other rules (one at a time, to see which fix each one needs).
pub fn peering_realism() -> serde_json::Value {
    std::env::var("PEERING_REALISM")
        .ok()
        .and_then(|rules| serde_json::from_str(&rules).ok())
        .unwrap_or_else(|| serde_json::json!({"new_pcx_not_found": 2, "accepter_lag": 2, "empty_cidrs": 1}))
}

/// (status, requester DNS, accepter DNS) of a connection, as `ec2` sees it.
pub fn connection(aws: &Aws, ec2: &Ec2, id: &str) -> (String, bool, bool) {
    let out = aws.block_on(ec2.describe_vpc_peering_connections().vpc_peering_connection_ids(id).send()).unwrap();
    let p = out
        .vpc_peering_connections()
        .iter()
        .find(|p| p.vpc_peering_connection_id() == Some(id))
        .expect("the connection");
    let dns = |i: Option<&aws_sdk_ec2::types::VpcPeeringConnectionVpcInfo>| {
        i.and_then(|i| i.peering_options()).and_then(|o| o.allow_dns_resolution_from_remote_vpc()).unwrap_or(false)
    };
    (p.status().unwrap().code().unwrap().as_str().to_string(), dns(p.requester_vpc_info()), dns(p.accepter_vpc_info()))
}

pub fn subnet(aws: &Aws, ec2: &Ec2, vpc: &Vpc, cidr: &str) -> String {
    aws.block_on(ec2.create_subnet().vpc_id(&vpc.id).cidr_block(cidr).send())
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string()
}

/// A security group in `vpc`; with `restrict_egress`, its default allow-all egress rule removed.
pub fn security_group(aws: &Aws, ec2: &Ec2, vpc: &Vpc, name: &str, restrict_egress: bool) -> String {
    let id = aws
        .block_on(ec2.create_security_group().group_name(name).description(name).vpc_id(&vpc.id).send())
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    if restrict_egress {
        // The default egress rules (0.0.0.0/0, and ::/0 in a VPC with IPv6), by rule id.
        let defaults: Vec<String> = group_rules(aws, ec2, &id).into_iter().filter(|r| r.egress).map(|r| r.id).collect();
        aws.block_on(
            ec2.revoke_security_group_egress().group_id(&id).set_security_group_rule_ids(Some(defaults)).send(),
        )
        .unwrap();
    }
    id
}

/// An interface endpoint for `com.amazonaws.us-east-1.<name>` with its security group.
pub fn interface_endpoint(
    aws: &Aws,
    ec2: &Ec2,
    vpc: &Vpc,
    subnet: &str,
    name: &str,
    group: &str,
    private_dns: bool,
) -> String {
    let out = aws.block_on(
        ec2.create_vpc_endpoint()
            .vpc_id(&vpc.id)
            .service_name(format!("com.amazonaws.us-east-1.{name}"))
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
            .subnet_ids(subnet)
            .security_group_ids(group)
            .private_dns_enabled(private_dns)
            .send(),
    );
    out.unwrap().vpc_endpoint().unwrap().vpc_endpoint_id().unwrap().to_string()
}

/// The S3 gateway endpoint, on `route_table`.
pub fn s3_gateway(aws: &Aws, ec2: &Ec2, vpc: &Vpc, route_table: &str) -> String {
    let out = aws.block_on(
        ec2.create_vpc_endpoint()
            .vpc_id(&vpc.id)
            .service_name("com.amazonaws.us-east-1.s3")
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
            .route_table_ids(route_table)
            .send(),
    );
    out.unwrap().vpc_endpoint().unwrap().vpc_endpoint_id().unwrap().to_string()
}

/// One security-group rule, flattened for assertions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SgRule {
    pub egress: bool,
    pub protocol: String,
    pub ports: (i32, i32),
    /// A group id, prefix list id, or CIDR (IPv4 or IPv6).
    pub peer: String,
    pub owner: Option<String>,
    pub id: String,
}

/// The rules of `group`, sorted.
pub fn group_rules(aws: &Aws, ec2: &Ec2, group: &str) -> Vec<SgRule> {
    let filter = aws_sdk_ec2::types::Filter::builder().name("group-id").values(group).build();
    let out = aws.block_on(ec2.describe_security_group_rules().filters(filter).send()).unwrap();
    let mut rules: Vec<SgRule> = out
        .security_group_rules()
        .iter()
        .map(|r| SgRule {
            egress: r.is_egress() == Some(true),
            protocol: r.ip_protocol().unwrap_or_default().into(),
            ports: (r.from_port().unwrap_or(-1), r.to_port().unwrap_or(-1)),
            peer: [
                r.referenced_group_info().and_then(|g| g.group_id()),
                r.prefix_list_id(),
                r.cidr_ipv4(),
                r.cidr_ipv6(),
            ]
            .into_iter()
            .flatten()
            .find(|p| !p.is_empty())
            .unwrap_or_default()
            .into(),
            owner: r
                .tags()
                .iter()
                .find(|t| t.key() == Some("ecs-plumbing:owner"))
                .and_then(|t| t.value())
                .map(str::to_owned),
            id: r.security_group_rule_id().unwrap_or_default().into(),
        })
        .collect();
    rules.sort();
    rules
}

/// The S3 prefix list id (random per moto process: always look it up).
pub fn s3_prefix_list(aws: &Aws, ec2: &Ec2) -> String {
    let filter =
        aws_sdk_ec2::types::Filter::builder().name("prefix-list-name").values("com.amazonaws.us-east-1.s3").build();
    let out = aws.block_on(ec2.describe_managed_prefix_lists().filters(filter).send()).unwrap();
    out.prefix_lists()[0].prefix_list_id().unwrap().to_string()
}

/// A VPC with the default endpoints (ecr.api, ecr.dkr, logs with private DNS; S3 gateway), one
/// security group per interface endpoint, and two task groups with restricted egress.
pub struct EndpointSite {
    pub vpc: Vpc,
    pub subnet: String,
    pub endpoint_groups: Vec<String>,
    pub tasks: [String; 2],
    pub prefix_list: String,
}

pub fn endpoint_site(aws: &Aws) -> EndpointSite {
    let ec2 = aws.ec2("us-east-1");
    let vpc = vpc(aws, &ec2, "10.0.0.0/16", &[], true);
    let subnet = subnet(aws, &ec2, &vpc, "10.0.1.0/24");
    let mut endpoint_groups = Vec::new();
    for name in ["ecr.api", "ecr.dkr", "logs"] {
        let group = security_group(aws, &ec2, &vpc, &format!("{name}-endpoint"), false);
        interface_endpoint(aws, &ec2, &vpc, &subnet, name, &group, true);
        endpoint_groups.push(group);
    }
    s3_gateway(aws, &ec2, &vpc, &table(aws, &ec2, &vpc));
    let tasks = [security_group(aws, &ec2, &vpc, "tasks-a", true), security_group(aws, &ec2, &vpc, "tasks-b", true)];
    let prefix_list = s3_prefix_list(aws, &ec2);
    EndpointSite { vpc, subnet, endpoint_groups, tasks, prefix_list }
}
