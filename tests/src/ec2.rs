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
