//! The template passes cfn-lint and `sam validate --lint` with nothing to
//! report, and `infra/local/with-stack.sh` behaves as documented. The tools
//! come from the project venv (`infra/local/tools.sh`); when it is missing the
//! tests say so and pass.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn skip(test: &str, why: &str) {
    // The stderr handle directly: the harness captures eprintln!.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// `.venv/bin/NAME` of the repo, when tools.sh has installed it.
fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = repo_root().join(".venv/bin").join(name);
    path.exists().then_some(path)
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn cfn_lint_reports_nothing() {
    let Some(cfn_lint) = venv_tool("cfn-lint") else {
        return skip("cfn_lint_reports_nothing", "no .venv/bin/cfn-lint; run infra/local/tools.sh");
    };
    let out = Command::new(cfn_lint).arg("infra/template.yaml").current_dir(repo_root()).output().unwrap();
    let report = text(&out);
    assert!(out.status.success() && report.trim().is_empty(), "cfn-lint reported:\n{report}");
}

#[test]
fn sam_validate_lint_reports_nothing() {
    let Some(sam) = venv_tool("sam") else {
        return skip("sam_validate_lint_reports_nothing", "no .venv/bin/sam; run infra/local/tools.sh");
    };
    let out = Command::new(sam)
        .args(["validate", "--lint", "--template", "infra/template.yaml", "--region", "us-east-1"])
        .env("SAM_CLI_TELEMETRY", "0")
        .current_dir(repo_root())
        .output()
        .unwrap();
    let report = text(&out);
    let lines: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        out.status.success() && lines.len() == 1 && lines[0].ends_with("infra/template.yaml is a valid SAM Template"),
        "sam validate --lint reported:\n{report}"
    );
}

#[test]
fn with_stack_exports_the_endpoint_propagates_the_exit_code_and_stops_moto() {
    if venv_tool("moto_server").is_none() {
        return skip(
            "with_stack_exports_the_endpoint_propagates_the_exit_code_and_stops_moto",
            "no .venv/bin/moto_server; run infra/local/tools.sh",
        );
    }
    let script = repo_root().join("infra/local/with-stack.sh");
    let out = Command::new(&script)
        .args([
            "--",
            "sh",
            "-c",
            "echo \"$LOCAL_STACK_MOTO_PID $AWS_ENDPOINT_URL $AWS_REGION $AWS_ACCESS_KEY_ID $(pwd)\"; exit 7",
        ])
        // Any cwd works: the script moves to the repo root.
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    let [pid, endpoint, region, key, cwd] = fields[..] else { panic!("unexpected output: {stdout}") };
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert_eq!(region, "us-east-1");
    assert_eq!(key, "testing");
    assert_eq!(Path::new(cwd), repo_root());

    // moto was stopped (by its PID) and reaped: nothing listens any more.
    assert!(!Path::new("/proc").join(pid).exists(), "moto (pid {pid}) still runs");
    let addr = endpoint.trim_start_matches("http://");
    assert!(std::net::TcpStream::connect(addr).is_err(), "{addr} still accepts connections");

    // A failed command keeps moto's log for diagnosis; this failure was on purpose.
    let port = addr.rsplit(':').next().unwrap();
    let _ = std::fs::remove_file(repo_root().join(format!("target/local-stack/moto-{port}.log")));
}
