//! `connector mapping import | export` against a fresh stack in moto: a
//! mapping is validated as a whole, stored only when valid, and exported as
//! the YAML it can be imported from again.

use domain::{Connection, ConnectionId};
use integration::TestStack;

struct Run {
    code: i32,
    out: String,
}

async fn cli(stack: &TestStack, args: &[&str]) -> Run {
    let mut full = vec!["connector", "--stack", stack.stack_name()];
    full.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = operator::main_with(full, &mut out, &mut err).await;
    Run { code, out: format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)) }
}

fn file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mapping-cli-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

const VALID: &str = r#"
version: 1
accounts: { "37": "61000", CADV: "13100" }
parties:
  EMPL: { kind: employee_vendor }
  IBCP: { kind: vendor, vendor: AMEXCORP }
employees: { "49038128": EMP0001 }
dimensions:
  subaccount: { sources: [allocationCustom1], default: "000-000" }
taxes:
  - { authority: DEVAT, reclaim_account: "14500", non_deductible: expense }
"#;

#[tokio::test]
async fn a_mapping_is_stored_only_when_valid_and_exports_as_it_imports() {
    let stack = TestStack::new().await;
    let id = ConnectionId::parse("acme").unwrap();
    stack
        .connections("ScheduledPollerFunction")
        .create(&Connection::new(id.clone(), "Acme", None, "2026-11-23T10:00:00Z"))
        .await
        .unwrap();

    let empty = cli(&stack, &["mapping", "export", "acme"]).await;
    assert_eq!(empty.code, 0);
    assert!(empty.out.contains("has no mapping yet"), "{}", empty.out);

    let valid = file("valid", VALID);
    let stored = cli(&stack, &["mapping", "import", "acme", valid.to_str().unwrap()]).await;
    assert_eq!(stored.code, 0, "{}", stored.out);
    assert!(stored.out.contains("revision 1"), "{}", stored.out);

    let broken =
        VALID.replace("CADV: \"13100\"", "CADV: \"13100\", CADV: \"13200\"").replace("employees:", "employes:");
    let broken = file("broken", &broken);
    let refused = cli(&stack, &["mapping", "import", "acme", broken.to_str().unwrap()]).await;
    assert_eq!(refused.code, 2, "{}", refused.out);
    assert!(refused.out.contains("nothing was stored"), "{}", refused.out);
    let incomplete = file("incomplete", &VALID.replace(", default: \"000-000\"", ""));
    let refused = cli(&stack, &["mapping", "import", "acme", incomplete.to_str().unwrap()]).await;
    assert_eq!(refused.code, 2);
    assert!(refused.out.contains("required: true"), "{}", refused.out);
    let nobody = cli(&stack, &["mapping", "import", "ghost", valid.to_str().unwrap()]).await;
    assert_eq!(nobody.code, 2, "{}", nobody.out);

    let exported = cli(&stack, &["mapping", "export", "acme"]).await;
    assert_eq!(exported.code, 0);
    assert!(exported.out.contains("revision 1"), "the refused imports changed nothing: {}", exported.out);
    let again = file("again", &exported.out);
    let reimported = cli(&stack, &["mapping", "import", "acme", again.to_str().unwrap()]).await;
    assert_eq!(reimported.code, 0, "{}", reimported.out);
    assert!(reimported.out.contains("revision 2"), "{}", reimported.out);
    let stored = platform::mappings::MappingStore::new(stack.dynamodb(), stack.provisioned.table("ConnectionsTable"))
        .get(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.mapping, domain::mapping::Mapping::from_yaml(VALID).unwrap());
    assert_eq!(stored.revision, 2);
    for f in [valid, broken, incomplete, again] {
        let _ = std::fs::remove_file(f);
    }
}
