//! The ledger's batch writer: the chat path hands each row to an unbounded channel (no wait, no
//! drop) and one task writes what has arrived in batches. [`LedgerWriter::flush`] returns once
//! every row sent before it is written — graceful shutdown calls it, so no row is lost there.
//! A batch that fails to write is kept and retried with the next one (up to
//! [`MAX_PENDING`] rows, then the oldest are logged and dropped: the database is down).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::Store;
use crate::repo::NewLedgerRow;

/// Rows kept in memory while the database refuses them.
pub const MAX_PENDING: usize = 100_000;
/// Most rows written by one statement batch.
const BATCH: usize = 500;

enum Message {
    Row(Box<NewLedgerRow>),
    Flush(oneshot::Sender<bool>),
}

/// Hands ledger rows to the writer task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LedgerWriter {
    tx: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Row(row) => f.debug_tuple("Row").field(&row.id).finish(),
            Message::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl LedgerWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Store) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx));
        Self { tx }
    }

    /// Queues `row`; never waits. `false` when the writer task is gone (runtime shutting down).
    pub fn record(&self, row: NewLedgerRow) -> bool {
        self.tx.send(Message::Row(Box::new(row))).is_ok()
    }

    /// Waits until every row queued before this call is written; `false` if some could not be
    /// (the database refused them; they stay queued for the next attempt).
    pub async fn flush(&self) -> bool {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Flush(ack)).is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut pending: Vec<NewLedgerRow> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<bool>> = Vec::new();
    let mut backoff = Duration::from_millis(50);
    loop {
        if pending.is_empty() && flushes.is_empty() {
            match rx.recv().await {
                Some(message) => take(message, &mut pending, &mut flushes),
                None => return,
            }
        }
        // Whatever else has arrived joins this batch.
        while pending.len() < BATCH * 4 {
            match rx.try_recv() {
                Ok(message) => take(message, &mut pending, &mut flushes),
                Err(_) => break,
            }
        }
        let written = write(&store, &pending).await;
        if written {
            pending.clear();
            backoff = Duration::from_millis(50);
        } else if pending.len() > MAX_PENDING {
            let dropped = pending.len() - MAX_PENDING;
            tracing::error!(dropped, "llm ledger: the database has refused rows for too long; dropping the oldest");
            pending.drain(..dropped);
        }
        for ack in flushes.drain(..) {
            let _ = ack.send(written);
        }
        if !written {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

fn take(message: Message, pending: &mut Vec<NewLedgerRow>, flushes: &mut Vec<oneshot::Sender<bool>>) {
    match message {
        Message::Row(row) => pending.push(*row),
        Message::Flush(ack) => flushes.push(ack),
    }
}

async fn write(store: &Store, rows: &[NewLedgerRow]) -> bool {
    if rows.is_empty() {
        return true;
    }
    for chunk in rows.chunks(BATCH) {
        if let Err(error) = store.ledger().insert(chunk).await {
            tracing::warn!(%error, rows = rows.len(), "llm ledger: batch not written; retrying");
            return false;
        }
    }
    true
}
