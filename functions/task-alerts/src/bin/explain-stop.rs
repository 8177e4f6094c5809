//! `explain-stop`: why did this ECS task stop?
//!
//! Reads one JSON document on stdin, a whole EventBridge "ECS Task State Change" event or one element
//! of `aws ecs describe-tasks`' `tasks`, and prints the diagnosis as one JSON object. Bad input: one
//! line on stderr and exit code 2.
//!
//! `aws ecs describe-tasks --cluster c --tasks t --query 'tasks[0]' | explain-stop`

use std::io::Read;
use std::process::ExitCode;

use task_alerts::diagnosis::{TaskDetail, diagnose};

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(err) = std::io::stdin().read_to_string(&mut input) {
        return fail(&format!("cannot read stdin: {err}"));
    }
    let task = match TaskDetail::from_json(&input) {
        Ok(task) => task,
        Err(err) => return fail(&err.to_string()),
    };
    match serde_json::to_string(&diagnose(&task)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("cannot write the diagnosis: {err}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("explain-stop: {message}");
    ExitCode::from(2)
}
