//! The list sync (issue 14) on the real stack: Acumatica's subaccounts (and
//! its projects → tasks, two levels) into a Concur list through the strict
//! List Item v4 simulator, configured with the operator CLI, the sync state
//! in moto's DynamoDB.

use std::collections::BTreeMap;

use domain::ErpKind;
use erp_poster::reference_sync::SyncOutcome;
use integration::posting::{COMPANY, IFS_COMPANY, POSTER, PostingWorld, TENANT};
use platform::reference::RunCounts;
use simulators::concur::ReferenceWriteKind;
use simulators::faults::{FaultKind, FaultSpec};

const LIST: &str = "Cost Centers";

/// Concur's live items of the list: short code → text.
fn in_concur(world: &PostingWorld, list_id: &str) -> BTreeMap<String, String> {
    world.concur.list_items(COMPANY, list_id).into_iter().map(|i| (i.short_code, i.value)).collect()
}

/// Acumatica's active subaccounts: code → description.
fn in_acumatica(world: &PostingWorld) -> BTreeMap<String, String> {
    world
        .acumatica()
        .subaccounts(TENANT)
        .into_iter()
        .filter(|s| s["Active"]["value"] != false)
        .map(|s| {
            let text = |f: &str| s[f]["value"].as_str().unwrap_or_default().trim_end().to_owned();
            let code = text("SubaccountCD");
            let description = text("Description");
            (code.clone(), if description.is_empty() { code } else { description })
        })
        .collect()
}

fn counts(outcome: SyncOutcome) -> RunCounts {
    match outcome {
        SyncOutcome::Done(counts) => counts,
        other => panic!("the sync ran: {other:?}"),
    }
}

/// A world whose connection feeds `Cost Centers` from subaccounts (set with
/// the CLI), with that list in Concur; returns the list's id.
async fn feeding(name: &str) -> (PostingWorld, String) {
    let world = PostingWorld::new(name).await;
    let list_id = world.concur.create_list(COMPANY, LIST, 1).unwrap();
    let feed = format!("{LIST}=subaccounts");
    let set = integration::connector(world.stack.stack_name(), &["sync", "lists", name, "--feed", &feed]).await;
    assert_eq!(set.code, 0, "{} {}", set.out, set.err);
    let shown = integration::connector(world.stack.stack_name(), &["sync", "lists", name]).await;
    assert!(shown.out.contains("Cost Centers <- subaccounts"), "{}", shown.out);
    (world, list_id)
}

#[tokio::test]
async fn subaccounts_reach_the_concur_list_once_then_only_changes_and_an_inactivated_one_is_removed() {
    let (world, list_id) = feeding("acme-lists").await;
    let acumatica = world.acumatica();
    acumatica.add_subaccount(TENANT, "CC-900", "Research", true);
    acumatica.add_subaccount(TENANT, "CC-901", "Marketing", true);
    acumatica.add_subaccount(TENANT, "CC-902", "Closed unit", false);
    acumatica.add_subaccount(TENANT, "CC-903", &"Too long a name for Concur ".repeat(3), true);
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();

    // The first sync puts exactly the ERP's active subaccounts into the list;
    // the one Concur cannot hold is refused with the reason, the rest written.
    let first = counts(poster.sync_lists(&connection).await.unwrap());
    let mut expected = in_acumatica(&world);
    expected.remove("CC-903");
    assert_eq!(in_concur(&world, &list_id), expected);
    assert_eq!(first.written as usize, expected.len(), "{first:?}");
    assert_eq!(first.refused, 1, "{first:?}");
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-lists"]).await;
    assert!(status.out.contains("refused Cost Centers/CC-903: value"), "{}", status.out);

    // Nothing changed: no write at all.
    let writes = || world.concur.reference_writes(COMPANY).len();
    let before = writes();
    let second = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((second.written, second.deactivated), (0, 0), "{second:?}");
    assert_eq!(writes(), before);

    // Three changes write exactly those three: a rename, a new one, an inactivation.
    assert!(acumatica.update_subaccount(TENANT, "CC-900", "Research and development", true));
    acumatica.add_subaccount(TENANT, "CC-904", "Logistics", true);
    assert!(acumatica.update_subaccount(TENANT, "CC-901", "Marketing", false));
    let third = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((third.written, third.deactivated), (2, 1), "{third:?}");
    assert_eq!(writes(), before + 3);
    let mut expected = in_acumatica(&world);
    expected.remove("CC-903");
    assert_eq!(in_concur(&world, &list_id), expected);
    assert!(!in_concur(&world, &list_id).contains_key("CC-901"), "the inactivated one is gone from the list");
    // Updates went to the same item (no second CC-900).
    let all = world.concur.all_list_items(COMPANY);
    assert_eq!(all.iter().filter(|i| i.short_code == "CC-900").count(), 1);
}

#[tokio::test]
async fn an_item_already_in_concur_is_taken_over_not_doubled_and_a_cut_off_run_resumes() {
    let (world, list_id) = feeding("acme-lists-resume").await;
    let acumatica = world.acumatica();
    for n in 0..30 {
        acumatica.add_subaccount(TENANT, &format!("R-{n:03}"), &format!("Unit {n}"), true);
    }
    // An admin (or a create whose answer was lost) put one code there already.
    world.concur.add_list_item(COMPANY, &list_id, None, "R-007", "old text").unwrap();
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();

    // Concur takes the first create, then fails every call through the
    // transport's four attempts: the run stops part-way, keeps what it
    // wrote, and gives the lease back.
    let concur_faults = world.concur.faults();
    let fault = |fault, count, fraction, path: &str, method: Option<&str>| FaultSpec {
        fault,
        count,
        fraction,
        path_prefix: Some(path.into()),
        method: method.map(str::to_owned),
    };
    concur_faults
        .inject(fault(FaultKind::ServerError { status: 503 }, Some(4), Some(0.9), "/list/v4/items", Some("POST")))
        .unwrap();
    let cut = poster.sync_lists(&connection).await;
    assert!(cut.as_ref().is_err_and(|f| f.is_retryable()), "{cut:?}");

    let store = world.stack.reference(POSTER);
    let state = store.state(&world.connection, domain::reference::ReferenceKind::Lists).await.unwrap().unwrap();
    assert!(state.last_error.is_some_and(|e| e.contains("503")), "the reason is kept for `sync status`");

    // The retry, through a 429 storm, finishes with the same result as one clean run.
    let storm = fault(FaultKind::TooManyRequests { retry_after_seconds: None }, None, Some(0.2), "/list/v4", None);
    concur_faults.inject(storm).unwrap();
    let done = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!(done.refused, 0, "{done:?}");
    concur_faults.clear();
    assert_eq!(in_concur(&world, &list_id), in_acumatica(&world));
    let all = world.concur.all_list_items(COMPANY);
    for code in in_acumatica(&world).keys() {
        assert_eq!(all.iter().filter(|i| &i.short_code == code).count(), 1, "{code} is one item");
    }
    let created = world.concur.reference_write_count(COMPANY, ReferenceWriteKind::ListItemCreate, true);
    assert_eq!(created, in_acumatica(&world).len() - 1, "R-007 was taken over, not created again");

    let again = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((again.written, again.refused), (0, 0), "{again:?}");
}

#[tokio::test]
async fn a_fed_list_concur_does_not_have_is_refused_with_the_fix() {
    let world = PostingWorld::new("acme-lists-missing").await;
    let set = integration::connector(
        world.stack.stack_name(),
        &["sync", "lists", "acme-lists-missing", "--feed", "Departments=subaccounts"],
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.err);
    let bad = integration::connector(
        world.stack.stack_name(),
        &["sync", "lists", "acme-lists-missing", "--feed", "Departments=code_part:B"],
    )
    .await;
    assert_eq!(bad.code, 0, "a source is checked against the ERP when it runs: {}", bad.err);
    let unknown =
        integration::connector(world.stack.stack_name(), &["sync", "lists", "acme-lists-missing", "--feed", "X=foo"])
            .await;
    assert_ne!(unknown.code, 0);
    assert!(unknown.err.contains("unknown list source `foo`"), "{}", unknown.err);

    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    // code_part:B is IFS's: Acumatica refuses the source, by the list's name.
    let run = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((run.written, run.refused), (0, 1), "{run:?}");
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-lists-missing"]).await;
    assert!(status.out.contains("refused Departments: Acumatica has no list source `code_part:B`"), "{}", status.out);

    // Back to subaccounts, but Concur has no such list: every item is refused with the fix.
    let set = integration::connector(
        world.stack.stack_name(),
        &["sync", "lists", "acme-lists-missing", "--feed", "Departments=subaccounts"],
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.err);
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let run = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!(run.written, 0, "{run:?}");
    assert!(run.refused > 0, "{run:?}");
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-lists-missing"]).await;
    assert!(status.out.contains("Concur has no list named `Departments`"), "{}", status.out);
}

#[tokio::test]
async fn ifs_code_part_values_and_acumatica_accounts_feed_their_lists() {
    // IFS Cloud: code part B's values, active within their validity.
    let world = PostingWorld::with_erp("ifs-lists", ErpKind::IfsCloud).await;
    let list_id = world.concur.create_list(COMPANY, LIST, 1).unwrap();
    let set = integration::connector(
        world.stack.stack_name(),
        &["sync", "lists", "ifs-lists", "--feed", "Cost Centers=code_part:b"],
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.err);
    world.ifs().add_code_part_value(IFS_COMPANY, "B", "CC77");
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let first = counts(poster.sync_lists(&connection).await.unwrap());
    let items = in_concur(&world, &list_id);
    assert_eq!(first.written as usize, items.len(), "{first:?}");
    assert_eq!(items.get("CC77").map(String::as_str), Some("B CC77"), "{items:?}");
    // Closed in IFS yesterday: removed from the list.
    let yesterday = time::OffsetDateTime::now_utc().date().previous_day().unwrap();
    assert!(world.ifs().set_code_part_value_valid_until(IFS_COMPANY, "B", "CC77", yesterday));
    let second = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((second.written, second.deactivated), (0, 1), "{second:?}");
    assert!(!in_concur(&world, &list_id).contains_key("CC77"));

    // Acumatica: GL accounts, an inactive one left out.
    let world = PostingWorld::new("acme-account-list").await;
    let list_id = world.concur.create_list(COMPANY, "GL Accounts", 1).unwrap();
    let feed = ["sync", "lists", "acme-account-list", "--feed", "GL Accounts=accounts"];
    assert_eq!(integration::connector(world.stack.stack_name(), &feed).await.code, 0);
    world.acumatica().add_account(TENANT, "69900", "Closed travel", "Expense", false);
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let run = counts(poster.sync_lists(&connection).await.unwrap());
    let items = in_concur(&world, &list_id);
    assert_eq!(run.written as usize, items.len(), "{run:?}");
    assert!(!items.is_empty() && !items.contains_key("69900"), "{items:?}");
}

/// Concur's live items of a two-level list: long code → (level, text,
/// the parent's short code).
fn tree_in_concur(world: &PostingWorld, list_id: &str) -> BTreeMap<String, (u32, String, Option<String>)> {
    let items = world.concur.list_items(COMPANY, list_id);
    let short_code = |id: &String| items.iter().find(|i| &i.id == id).map(|i| i.short_code.clone());
    items
        .iter()
        .map(|i| (i.code.clone(), (i.level, i.value.clone(), i.parent_id.as_ref().and_then(short_code))))
        .collect()
}

#[tokio::test]
async fn projects_and_their_tasks_fill_a_two_level_list_and_leave_it_children_first() {
    let name = "acme-projects";
    let world = PostingWorld::new(name).await;
    let list_id = world.concur.create_list(COMPANY, "Projects", 2).unwrap();
    let set =
        integration::connector(world.stack.stack_name(), &["sync", "lists", name, "--feed", "Projects=projects"]).await;
    assert_eq!(set.code, 0, "{} {}", set.out, set.err);
    let shown = integration::connector(world.stack.stack_name(), &["sync", "lists", name]).await;
    assert!(shown.out.contains("Projects <- projects"), "{}", shown.out);
    let acumatica = world.acumatica();
    for (project, text, tasks) in [
        ("PRJ01", "Office fit-out", [("DESIGN", "Design"), ("BUILD", "Build")]),
        ("PRJ02", "Trade fair", [("BOOTH", "Booth"), ("TRAVEL", "Travel")]),
    ] {
        acumatica.add_project(TENANT, project, text, "Active");
        for (task, text) in tasks {
            acumatica.add_project_task(TENANT, project, task, text, "Active");
        }
    }
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();

    // Projects at level 1, each task under its own project at level 2.
    let first = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((first.written, first.refused), (6, 0), "{first:?}");
    let level = |n: u32, code: &str, text: &str, parent: Option<&str>| {
        (code.to_owned(), (n, text.to_owned(), parent.map(str::to_owned)))
    };
    let mut expected = BTreeMap::from([
        level(1, "PRJ01", "Office fit-out", None),
        level(2, "PRJ01-DESIGN", "Design", Some("PRJ01")),
        level(2, "PRJ01-BUILD", "Build", Some("PRJ01")),
        level(1, "PRJ02", "Trade fair", None),
        level(2, "PRJ02-BOOTH", "Booth", Some("PRJ02")),
        level(2, "PRJ02-TRAVEL", "Travel", Some("PRJ02")),
    ]);
    assert_eq!(tree_in_concur(&world, &list_id), expected);

    // Nothing changed: no write at all.
    let writes = || world.concur.reference_writes(COMPANY);
    let before = writes().len();
    let second = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((second.written, second.deactivated), (0, 0), "{second:?}");
    assert_eq!(writes().len(), before);

    // A task completed leaves the list; its project and the rest stay.
    assert!(acumatica.set_project_task_status(TENANT, "PRJ01", "BUILD", "Completed"));
    let third = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((third.written, third.deactivated), (0, 1), "{third:?}");
    expected.remove("PRJ01-BUILD");
    assert_eq!(tree_in_concur(&world, &list_id), expected);

    // A project completed leaves with its tasks, the tasks removed first.
    let before = writes().len();
    assert!(acumatica.set_project_status(TENANT, "PRJ02", "Completed"));
    let fourth = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((fourth.written, fourth.deactivated), (0, 3), "{fourth:?}");
    expected.retain(|code, _| !code.starts_with("PRJ02"));
    assert_eq!(tree_in_concur(&world, &list_id), expected);
    let removed: Vec<String> = writes()[before..]
        .iter()
        .filter(|w| w.kind == ReferenceWriteKind::ListItemDelete && w.succeeded)
        .map(|w| world.concur.list_item(COMPANY, &w.key).map(|i| i.code).unwrap_or_default())
        .collect();
    assert_eq!(removed, ["PRJ02-BOOTH", "PRJ02-TRAVEL", "PRJ02"], "children first");

    let fifth = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((fifth.written, fifth.deactivated), (0, 0), "{fifth:?}");
}

#[tokio::test]
async fn infor_dimension_values_and_accounts_feed_their_lists_and_a_removed_value_leaves_it() {
    use integration::posting::{INFOR_ENTITY, INFOR_TENANT};

    let world = PostingWorld::with_erp("acme-infor-lists", ErpKind::Infor).await;
    let centers = world.concur.create_list(COMPANY, LIST, 1).unwrap();
    let accounts = world.concur.create_list(COMPANY, "GL Accounts", 1).unwrap();
    world.concur.create_list(COMPANY, "Code part", 1).unwrap();
    world.infor().add_account_named(INFOR_TENANT, INFOR_ENTITY, "6999", "Travel, other");
    let feeds = [
        "--feed",
        "Cost Centers=dimension:CostCenter",
        "--feed",
        "GL Accounts=accounts",
        "--feed",
        "Code part=code_part:B",
    ];
    let set = integration::connector(
        world.stack.stack_name(),
        &[&["sync", "lists", "acme-infor-lists"][..], &feeds].concat(),
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.all());
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();

    let first = counts(poster.sync_lists(&connection).await.unwrap());
    let values = world.infor().dimension_values(INFOR_TENANT, INFOR_ENTITY, "CostCenter");
    assert!(values.len() >= 3, "{values:?}");
    let codes: Vec<String> = in_concur(&world, &centers).into_keys().collect();
    assert_eq!(codes, values, "exactly the dimension's values");
    assert_eq!(in_concur(&world, &accounts).get("6999").map(String::as_str), Some("Travel, other"));
    assert_eq!(first.refused, 1, "the IFS-only source is refused with the fix: {first:?}");
    let store = world.stack.reference(POSTER);
    let state = store.state(&world.connection, domain::reference::ReferenceKind::Lists).await.unwrap().unwrap();
    assert!(state.refused.iter().any(|r| r.reason.contains("dimension:NAME")), "{:?}", state.refused);

    // A value deleted in M3 leaves the list; nothing else is written.
    assert!(world.infor().remove_dimension_value(INFOR_TENANT, INFOR_ENTITY, "CostCenter", &values[0]));
    let second = counts(poster.sync_lists(&connection).await.unwrap());
    assert_eq!((second.written, second.deactivated), (0, 1), "{second:?}");
    assert!(!in_concur(&world, &centers).contains_key(&values[0]));
}
