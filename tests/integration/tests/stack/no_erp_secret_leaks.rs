//! No ERP secret reaches a log line, a DynamoDB item or a queue message
//! while documents are posted into IFS Cloud and into Infor through ION:
//! IAM client secrets, the `.ionapi` keys, Infor's rotating refresh tokens
//! and the token ION presents to ion-inbox. Logs are captured in the
//! production JSON format at the most verbose level the stack allows.

use std::io::Write;
use std::sync::{Arc, Mutex};

use domain::{ErpKind, WorkSource};
use integration::posting::{
    IFS_CLIENT, INFOR_INBOX_TOKEN, INFOR_TENANT, POSTER, PostingWorld, consume_queue, example_work_items,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Posts three example documents (a token expiry in between) and returns
/// every text an operator or an attacker with read access could see.
async fn post_some(world: &PostingWorld) -> Vec<(String, String)> {
    world.load_examples();
    let poster = world.poster().await;
    for (i, (file, item)) in example_work_items(&world.connection, WorkSource::Poll).into_iter().take(3).enumerate() {
        if i == 1 {
            match world.erp_kind() {
                ErpKind::IfsCloud => world.ifs().expire_tokens(),
                ErpKind::Infor => world.infor().expire_tokens(),
                ErpKind::Acumatica => {}
            }
        }
        poster.process_item(&item).await.unwrap_or_else(|f| panic!("{file}: {}", f.reason));
    }
    if world.erp_kind() == ErpKind::Infor {
        world.infor().flush_callbacks().await;
        consume_queue(&world.stack, &poster, &world.stack.work_queue_url(POSTER)).await.unwrap();
    }
    let mut haystacks = Vec::new();
    for table in ["ConnectionsTable", "LedgerTable", "AuditTable"] {
        haystacks.push((table.to_owned(), world.stack.scan_table(table).await.join("\n")));
    }
    for queue in ["WorkQueue", "WorkDeadLetterQueue"] {
        haystacks.push((queue.to_owned(), world.stack.peek_queue(queue).await.join("\n")));
    }
    haystacks
}

#[tokio::test(flavor = "current_thread")]
async fn no_ifs_or_infor_secret_reaches_a_log_a_table_or_a_queue() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(platform::telemetry::filter_for("trace", "erp_poster"))
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ifs = PostingWorld::with_erp("leak-ifs", ErpKind::IfsCloud).await;
    let mut haystacks = post_some(&ifs).await;

    let infor = PostingWorld::with_erp("leak-infor", ErpKind::Infor).await;
    infor.infor().issue_refresh_tokens(true);
    haystacks.extend(post_some(&infor).await);
    let ionapi: serde_json::Value = infor
        .stack
        .secrets()
        .get_json(&format!("{}/connections/{}/erp", infor.stack.stack_name(), infor.connection))
        .await
        .unwrap()
        .unwrap();
    let refresh: Option<serde_json::Value> = infor
        .stack
        .secrets()
        .get_json(&format!("{}/connections/{}/ion-refresh", infor.stack.stack_name(), infor.connection))
        .await
        .unwrap();
    let refresh = refresh.expect("the rotating refresh token was persisted");

    let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(log_text.lines().count() > 20, "logs were captured");
    haystacks.push(("logs".to_owned(), log_text));

    let mut canaries = vec![IFS_CLIENT.1.to_owned(), INFOR_INBOX_TOKEN.to_owned()];
    for key in ["cs", "saak", "sask"] {
        canaries.push(ionapi[key].as_str().unwrap().to_owned());
    }
    canaries.push(refresh["refresh_token"].as_str().unwrap().to_owned());
    assert!(
        infor.infor().token_call_log().iter().filter(|c| c.tenant == INFOR_TENANT).count() >= 2,
        "tokens were renewed"
    );
    for (name, text) in &haystacks {
        for canary in &canaries {
            assert!(!text.contains(canary.as_str()), "a secret value ({} chars) leaked into {name}", canary.len());
        }
    }
}
