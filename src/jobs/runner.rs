//! The background loops of an instance: the write-back outbox, refunds, the polling of pending orders, and the
//! writing and delivery of pushed messages. `ebill
//! serve` runs them beside the HTTP server (unless `jobs.run_in_serve` is off), `ebill worker` runs them alone;
//! several instances may run them at once (queue leases and the polling round lock keep them from colliding).

use crate::payments::{polling, refunds};
use crate::push::{delivery, scheduler};
use crate::state::AppState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running loops; [`Background::stop`] lets each finish what it holds.
pub struct Background {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts every loop on the current runtime.
pub fn start(state: &AppState) -> Background {
    let (shutdown, receiver) = watch::channel(false);
    let tasks = vec![
        tokio::spawn({
            let (state, receiver) = (state.clone(), receiver.clone());
            async move {
                let report = super::writeback::run(state, receiver).await;
                tracing::info!(?report, "write-back worker stopped");
            }
        }),
        tokio::spawn({
            let (state, receiver) = (state.clone(), receiver.clone());
            async move {
                let report = refunds::run(state, receiver).await;
                tracing::info!(?report, "refund worker stopped");
            }
        }),
        tokio::spawn({
            let (state, receiver) = (state.clone(), receiver.clone());
            async move { polling::run(state, receiver).await }
        }),
        tokio::spawn({
            let (state, receiver) = (state.clone(), receiver.clone());
            async move { scheduler::run(state, receiver).await }
        }),
        tokio::spawn({
            let state = state.clone();
            async move {
                let report = delivery::run(state, receiver).await;
                tracing::info!(?report, "message delivery stopped");
            }
        }),
    ];
    Background { shutdown, tasks }
}

impl Background {
    /// Asks every loop to stop and waits for them.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a background loop ended abnormally");
            }
        }
    }
}
