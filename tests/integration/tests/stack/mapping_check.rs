//! `connector mapping check`: every account, supplier and dimension value
//! of a connection's mapping is looked up in its ERP (IFS Cloud, Infor), so
//! an operator learns of a typo before a document is stopped by it.

use domain::ErpKind;
use integration::posting::PostingWorld;

async fn check(world: &PostingWorld) -> (i32, String) {
    let stack = world.stack.stack_name().to_owned();
    let app_secret = format!("{stack}/concur-app");
    let args = [
        "connector",
        "--stack",
        &stack,
        "--concur-app-secret",
        &app_secret,
        "mapping",
        "check",
        world.connection.as_str(),
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = operator::main_with(args, &mut out, &mut err).await;
    (code, format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)))
}

#[tokio::test]
async fn the_mapping_is_checked_against_ifs_and_infor() {
    for kind in [ErpKind::IfsCloud, ErpKind::Infor] {
        let world = PostingWorld::with_erp(&format!("check-{kind}").replace('_', "-"), kind).await;
        let (code, text) = check(&world).await;
        assert_eq!(code, 0, "{kind}: {text}");
        assert!(text.contains("✓ GL accounts: all"), "{kind}: {text}");
        assert!(text.contains("0 failed"), "{kind}: {text}");

        let mut mapping = world.mapping();
        mapping.accounts.insert("37".into(), "6999".into());
        mapping.employees.insert("nobody".into(), "EMPNOBODY".into());
        world.import_mapping(&mapping).await;
        let (code, text) = check(&world).await;
        assert_eq!(code, 1, "{kind}: {text}");
        assert!(text.contains("✗ GL accounts: 1 of") && text.contains("unknown: 6999"), "{kind}: {text}");
        assert!(text.contains("EMPNOBODY"), "{kind}: {text}");
        assert!(text.contains("connector mapping import"), "{kind}: the fix is named: {text}");
    }
}
