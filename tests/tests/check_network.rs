//! `check-network` against moto: the built binary, run as a user runs it (AWS_ENDPOINT_URL,
//! AWS_REGION and credentials from the environment), on VPCs seeded straight into moto. Each
//! scenario asserts the exit code and the finding that names what is missing.

use std::process::Command;

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
use testbed::ec2::{Vpc, interface_endpoint, s3_gateway, security_group, subnet, table, vpc};
use testbed::{Aws, Moto};

/// A VPC whose tasks reach everything: one subnet with its own route table carrying the S3
/// gateway endpoint; ecr.api, ecr.dkr and logs endpoints with private DNS, each group letting
/// the task group in on 443; a task group with the default allow-all egress.
struct Site {
    vpc: Vpc,
    subnet: String,
    table: String,
    tasks: String,
    endpoint_groups: Vec<String>,
}

fn associate(aws: &Aws, ec2: &Ec2, table: &str, subnet: &str) {
    aws.block_on(ec2.associate_route_table().route_table_id(table).subnet_id(subnet).send()).unwrap();
}

fn ingress(aws: &Aws, ec2: &Ec2, group: &str, port: i32, from: &str) {
    let permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(from).build())
        .build();
    aws.block_on(ec2.authorize_security_group_ingress().group_id(group).ip_permissions(permission).send()).unwrap();
}

fn site(aws: &Aws, cidr: &str, subnet_cidr: &str) -> Site {
    let ec2 = aws.ec2("us-east-1");
    let vpc = vpc(aws, &ec2, cidr, &[], true);
    let subnet = subnet(aws, &ec2, &vpc, subnet_cidr);
    let table = table(aws, &ec2, &vpc);
    associate(aws, &ec2, &table, &subnet);
    let tasks = security_group(aws, &ec2, &vpc, "tasks", false);
    let mut endpoint_groups = Vec::new();
    for name in ["ecr.api", "ecr.dkr", "logs"] {
        let group = security_group(aws, &ec2, &vpc, &format!("{name}-endpoint"), false);
        ingress(aws, &ec2, &group, 443, &tasks);
        interface_endpoint(aws, &ec2, &vpc, &subnet, name, &group, true);
        endpoint_groups.push(group);
    }
    s3_gateway(aws, &ec2, &vpc, &table);
    Site { vpc, subnet, table, tasks, endpoint_groups }
}

/// `check-network args…` against moto: (exit code, stdout, stderr).
fn check(moto: &Moto, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(testbed::binary("check-network"))
        .args(args)
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("check-network runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn by_hand<'a>(s: &'a Site, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--subnets", s.subnet.as_str(), "--security-groups", s.tasks.as_str()];
    args.extend_from_slice(extra);
    args
}

/// The lines of `stdout` that begin with `missing`.
fn missing(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("missing")).collect()
}

#[test]
fn interface_endpoints_the_s3_gateway_and_what_is_missing() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url());
    let ec2 = aws.ec2("us-east-1");

    // Everything reachable: exit 0, a line for each endpoint, its ingress and egress.
    let s = site(&aws, "10.0.0.0/16", "10.0.1.0/24");
    let (code, out, err) = check(&moto, &by_hand(&s, &[]));
    assert_eq!(code, 0, "{out}{err}");
    for what in ["ecr.api endpoint", "ecr.api ingress", "ecr.api egress", "ecr.dkr ingress", "logs ingress"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("ok {what}: "))), "{what}:\n{out}");
    }
    assert!(out.contains(&format!("ok s3 route {}: {} sends s3's prefix list to vpce-", s.subnet, s.table)), "{out}");
    assert!(
        out.contains(&format!("ok logs ingress: {} ingress tcp/443 from {}", s.endpoint_groups[2], s.tasks)),
        "{out}"
    );
    assert!(missing(&out).is_empty(), "{out}");

    // The same as one JSON document.
    let (code, out, _) = check(&moto, &by_hand(&s, &["--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!((code, &doc["reachable"]), (0, &serde_json::json!(true)), "{out}");
    assert_eq!(doc["findings"][0]["level"], "ok", "{out}");

    // A service without an endpoint (and no route to a NAT gateway).
    let (code, out, _) = check(&moto, &by_hand(&s, &["--services", "ecr.api,secretsmanager"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("missing secretsmanager endpoint: secretsmanager (no endpoint); and the tasks cannot reach it through the internet either (see internet); fix: add an AWS::EC2::VPCEndpoint for secretsmanager"),
        "{out}"
    );
    assert!(
        out.contains(&format!("missing internet route {}: {} has no route to 0.0.0.0/0", s.subnet, s.table)),
        "{out}"
    );

    // An endpoint with private DNS off: as Custom::EndpointAccess words it.
    let ssm_group = security_group(&aws, &ec2, &s.vpc, "ssm-endpoint", false);
    ingress(&aws, &ec2, &ssm_group, 443, &s.tasks);
    let ssm = interface_endpoint(&aws, &ec2, &s.vpc, &s.subnet, "ssm", &ssm_group, false);
    let (code, out, _) = check(&moto, &by_hand(&s, &["--services", "ssm"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("missing ssm endpoint: ssm ({ssm} has private DNS off)")), "{out}");
    assert!(out.contains(&format!("fix: turn private DNS on for {ssm} (PrivateDnsEnabled: true)")), "{out}");

    // The logs endpoint's group without the ingress from the task group.
    let other = site(&aws, "10.2.0.0/16", "10.2.1.0/24");
    let logs_group = &other.endpoint_groups[2];
    let rule = testbed::ec2::group_rules(&aws, &ec2, logs_group).into_iter().find(|r| r.peer == other.tasks).unwrap();
    aws.block_on(ec2.revoke_security_group_ingress().group_id(logs_group).security_group_rule_ids(rule.id).send())
        .unwrap();
    let (code, out, _) = check(&moto, &by_hand(&other, &[]));
    assert_eq!(code, 1, "{out}");
    let found = missing(&out);
    assert_eq!(found.len(), 1, "{out}");
    assert!(found[0].starts_with(&format!("missing logs ingress: no ingress rule of {logs_group} (vpce-")), "{out}");
    assert!(
        found[0].ends_with(&format!(
            "'s security groups) allows tcp/443 from {tasks}; fix: add {logs_group} ingress tcp/443 from {tasks} (or deploy Custom::EndpointAccess with these task groups)",
            tasks = other.tasks
        )),
        "{out}"
    );

    // A second subnet whose route table lacks the S3 gateway endpoint.
    let bare = subnet(&aws, &ec2, &s.vpc, "10.0.2.0/24");
    let bare_table = table(&aws, &ec2, &s.vpc);
    associate(&aws, &ec2, &bare_table, &bare);
    let subnets = format!("{},{bare}", s.subnet);
    let (code, out, _) = check(&moto, &["--subnets", &subnets, "--security-groups", &s.tasks]);
    assert_eq!(code, 1, "{out}");
    let found = missing(&out);
    assert_eq!(found.len(), 1, "{out}");
    assert!(
        found[0].starts_with(&format!(
            "missing s3 route {bare}: {bare_table} has no route to a s3 gateway endpoint; fix: add {bare_table} to vpce-"
        )),
        "{out}"
    );

    // Bad input: exit 2, one line on stderr.
    let (code, _, err) = check(&moto, &["--subnets", "subnet-0123456789abcdef0", "--security-groups", &s.tasks]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("subnet subnet-0123456789abcdef0 not found"), "{err}");
    let (code, _, err) = check(&moto, &["--subnets", &s.subnet]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = check(&moto, &by_hand(&s, &["--security-groups", "sg-0123456789abcdef0"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("security group sg-0123456789abcdef0 not found"), "{err}");
}

/// A Fargate task definition `family` with an ECR image logging with awslogs, and `secret` (a
/// `valueFrom`) when given; a service of it in `site`'s subnet and task group.
fn service(aws: &Aws, s: &Site, family: &str, secret: Option<&str>) {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, ContainerDefinition, LogConfiguration, LogDriver, NetworkConfiguration,
        NetworkMode, Secret,
    };
    let ecs = aws.ecs();
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/web")
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "web")
        .build()
        .unwrap();
    let mut container = ContainerDefinition::builder()
        .name(family)
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4")
        .essential(true)
        .log_configuration(log);
    if let Some(value_from) = secret {
        container = container.secrets(Secret::builder().name("DB_PASSWORD").value_from(value_from).build().unwrap());
    }
    aws.block_on(
        ecs.register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(container.build())
            .send(),
    )
    .unwrap();
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(&s.subnet)
                .security_groups(&s.tasks)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap(),
        )
        .build();
    aws.block_on(
        ecs.create_service()
            .cluster("prod")
            .service_name(family)
            .task_definition(family)
            .desired_count(1)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .network_configuration(network)
            .send(),
    )
    .unwrap();
}

#[test]
fn a_service_its_task_definitions_needs_and_its_destinations() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url());
    let ec2 = aws.ec2("us-east-1");
    let s = site(&aws, "10.0.0.0/16", "10.0.1.0/24");
    aws.block_on(aws.ecs().create_cluster().cluster_name("prod").send()).unwrap();

    // The service's network and its task definition's needs: ECR (ecr.api, ecr.dkr, s3) and logs.
    service(&aws, &s, "web", None);
    let (code, out, err) = check(&moto, &["--cluster", "prod", "--service", "web"]);
    assert_eq!(code, 0, "{out}{err}");
    for what in ["ecr.api ingress", "ecr.dkr ingress", "logs ingress", "s3 egress"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("ok {what}: "))), "{what}:\n{out}");
    }
    assert!(out.contains(&format!("ok s3 route {}", s.subnet)), "{out}");

    // A secret from Secrets Manager, and no endpoint for it.
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
    service(&aws, &s, "worker", Some(arn));
    let (code, out, _) = check(&moto, &["--cluster", "prod", "--service", "worker"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing secretsmanager endpoint: secretsmanager (no endpoint)"), "{out}");

    // A service that does not exist.
    let (code, _, err) = check(&moto, &["--cluster", "prod", "--service", "nope"]);
    assert_eq!(
        (code, err.trim()),
        (2, "check-network: service nope not found in cluster prod: check --cluster and --service")
    );

    // A peered destination, first without a route to it, then with one.
    let peer = vpc(&aws, &ec2, "10.1.0.0/16", &[], true);
    let pcx = aws
        .block_on(ec2.create_vpc_peering_connection().vpc_id(&s.vpc.id).peer_vpc_id(&peer.id).send())
        .unwrap()
        .vpc_peering_connection()
        .unwrap()
        .vpc_peering_connection_id()
        .unwrap()
        .to_string();
    aws.block_on(ec2.accept_vpc_peering_connection().vpc_peering_connection_id(&pcx).send()).unwrap();
    let to = ["--cluster", "prod", "--service", "web", "--to", "10.1.2.3:5432"];
    let (code, out, _) = check(&moto, &to);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        missing(&out),
        [format!(
            "missing to 10.1.2.3/32 route {}: {} has no route to 10.1.2.3/32; fix: add a route to 10.1.2.3/32 in {} (to a peering connection or a transit gateway)",
            s.subnet, s.table, s.table
        )],
        "{out}"
    );
    aws.block_on(
        ec2.create_route()
            .route_table_id(&s.table)
            .destination_cidr_block("10.1.0.0/16")
            .vpc_peering_connection_id(&pcx)
            .send(),
    )
    .unwrap();
    let (code, out, _) = check(&moto, &to);
    assert_eq!(code, 0, "{out}");
    let route = format!(
        "ok to 10.1.2.3/32 route {}: {} sends 10.1.2.3/32 to {pcx} (active, to {}; ",
        s.subnet, s.table, peer.id
    );
    assert!(out.contains(&route), "{out}");
    assert!(
        out.contains(&format!(
            "ok to 10.1.2.3/32 egress: {} egress tcp/5432 to 10.1.2.3/32 is allowed by sgr-",
            s.tasks
        )),
        "{out}"
    );

    // A destination security group (a database): which task group it lets in, on which port.
    let db = security_group(&aws, &ec2, &s.vpc, "db", false);
    ingress(&aws, &ec2, &db, 5432, &s.tasks);
    let (code, out, _) = check(&moto, &["--cluster", "prod", "--service", "web", "--to-security-group", &db]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok to {db} ingress: {db} ingress tcp/5432 from {} is allowed by sgr-", s.tasks)),
        "{out}"
    );
    assert!(out.contains(&format!("ok to {db} egress: {} egress tcp/5432 to {db}", s.tasks)), "{out}");
    let closed = security_group(&aws, &ec2, &s.vpc, "efs", false);
    let to_closed = format!("{closed}:2049");
    let (code, out, _) = check(&moto, &["--cluster", "prod", "--service", "web", "--to-security-group", &to_closed]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        missing(&out),
        [format!(
            "missing to {closed} ingress: no ingress rule of {closed} allows {} on tcp/2049; fix: add {closed} ingress tcp/2049 from {}",
            s.tasks, s.tasks
        )],
        "{out}"
    );
}
