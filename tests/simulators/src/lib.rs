//! Strict local simulators of the outside APIs the connector talks to.
//!
//! Each simulator is an axum router that rejects what the real API rejects
//! and can be told to inject faults (see [`faults`]). Tests start them on an
//! ephemeral loopback port with [`spawn`]; the demo runs them with the
//! `simulators` binary.

pub mod acumatica;
pub mod concur;
pub mod faults;
pub mod ifs;
pub mod infor;

use std::net::SocketAddr;

use axum::Router;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A simulator serving on 127.0.0.1; stops when dropped.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSimulator {
    /// `http://127.0.0.1:<port>` — no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves `router` on 127.0.0.1 at `port` (0 = any free port).
pub async fn spawn(router: Router, port: u16) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningSimulator { addr, shutdown: Some(tx), task: Some(task) })
}
