//! `localstack`: provision the template's resources into the local stack, or
//! describe what the template holds.
//!
//! ```text
//! localstack provision --stack-name NAME --app-secret-file FILE [--parameter KEY=VALUE]... [--template PATH]
//! localstack describe [--stack-name NAME] [--template PATH]
//! ```
//!
//! `provision` refuses to run without `AWS_ENDPOINT_URL` (run it under
//! `infra/local/with-stack.sh`), so it never creates resources in a real
//! account by accident. It prints the provisioned stack as JSON.
//! `describe` needs no AWS: it prints the parsed tables, queues, buckets, functions and
//! secrets, and with `--stack-name` the environment each function would get on
//! AWS (us-east-1, account 123456789012) for that stack name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use localstack::{ProvisionOptions, StackValues, Template};

const USAGE: &str = "usage:
  localstack provision --stack-name NAME --app-secret-file FILE [--parameter KEY=VALUE]... [--template PATH]
  localstack describe [--stack-name NAME] [--template PATH]";

#[derive(Default)]
struct Args {
    stack_name: Option<String>,
    app_secret_file: Option<PathBuf>,
    template: Option<PathBuf>,
    parameters: BTreeMap<String, String>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args::default();
    let mut args = args;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--stack-name" => out.stack_name = Some(value()?),
            "--app-secret-file" => out.app_secret_file = Some(value()?.into()),
            "--template" => out.template = Some(value()?.into()),
            "--parameter" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').ok_or_else(|| format!("--parameter takes KEY=VALUE, not {kv}"))?;
                out.parameters.insert(k.to_owned(), v.to_owned());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(out)
}

fn load_template(args: &Args) -> Result<Template, String> {
    match &args.template {
        Some(path) => Template::from_file(path),
        None => Template::bundled(),
    }
    .map_err(|e| e.to_string())
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing to stdout: {e}")),
        _ => Ok(()),
    }
}

fn describe(args: &Args) -> Result<(), String> {
    let template = load_template(args)?;
    let mut out = serde_json::to_value(&template).map_err(|e| e.to_string())?;
    if let Some(stack) = &args.stack_name {
        let values =
            StackValues::predicted(&template, stack, "us-east-1", localstack::MOTO_ACCOUNT_ID, &args.parameters)
                .map_err(|e| e.to_string())?;
        let mut values = values;
        values.parameters.entry(localstack::APP_SECRET_PARAMETER.to_owned()).or_insert_with(|| {
            format!("arn:aws:secretsmanager:us-east-1:{}:secret:{stack}/concur-app", localstack::MOTO_ACCOUNT_ID)
        });
        let env = localstack::resolve_function_env(&template, &values).map_err(|e| e.to_string())?;
        out["predicted_function_env"] = serde_json::to_value(env).map_err(|e| e.to_string())?;
    }
    print_json(&out)
}

async fn provision(args: &Args) -> Result<(), String> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err(
            "AWS_ENDPOINT_URL is not set: run this under infra/local/with-stack.sh (it never provisions into real AWS)"
                .into(),
        );
    }
    let stack = args.stack_name.as_deref().ok_or("provision needs --stack-name")?;
    let file = args.app_secret_file.as_ref().ok_or("provision needs --app-secret-file")?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let app_secret: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    let options =
        ProvisionOptions { parameter_overrides: args.parameters.clone(), template: Some(load_template(args)?) };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = localstack::provision_with(&sdk, stack, &app_secret, &options).await.map_err(|e| e.to_string())?;
    print_json(&stack)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let command = argv.next();
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("localstack: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_deref() {
        Some("provision") => provision(&args).await,
        Some("describe") => describe(&args),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("localstack: {e}");
            ExitCode::FAILURE
        }
    }
}
