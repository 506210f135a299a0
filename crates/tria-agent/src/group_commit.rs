//! Group commit for the persist stage. Every reply is stored before it is returned (nothing a
//! customer was told is ever lost), but replies that finish at the same time share one
//! transaction: a writer task takes whatever is queued, up to [`MAX_BATCH`], and commits it
//! at once. An idle server still commits each exchange on its own right away; a busy one pays
//! one commit per batch instead of one per reply — on SQLite, which has a single writer, that
//! is the difference between hundreds and thousands of replies a second.
//!
//! On a SQLite file the writer is a thread of its own that writes batch after batch through the
//! store's blocking writer: the next batch starts as soon as the last one commits. A tokio task
//! (PostgreSQL, in-memory SQLite) is woken after each commit and waits for a worker — under
//! load, behind other work — while replies pile up for a writer that is idle.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tria_store::repo::{BlockingExchangeWriter, MeteredExchange};
use tria_store::{Backend, Store, StoreError};

/// Exchanges per transaction at most.
const MAX_BATCH: usize = 256;
/// Exchanges that may wait for a writer; beyond it `record` waits for room (back-pressure).
const QUEUE: usize = 4096;

struct Pending {
    item: MeteredExchange,
    stored: oneshot::Sender<Result<(), StoreError>>,
}

type Queue = Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>;

/// The queue in front of the writers. Writers are spawned on the first `record` (the agent
/// may be built outside a runtime) and again if their runtime has gone away.
pub(crate) struct ExchangeWriter {
    store: Store,
    sender: Mutex<Option<mpsc::Sender<Pending>>>,
}

impl ExchangeWriter {
    pub(crate) fn new(store: Store) -> Self {
        Self { store, sender: Mutex::new(None) }
    }

    /// Stores the exchange; returns once it is committed (or failed).
    pub(crate) async fn record(&self, item: MeteredExchange) -> Result<(), StoreError> {
        let Some(sender) = self.sender() else {
            return self.write_here(item).await;
        };
        // A permit first, then the exchange: waiting for room holds the permit's future, not a
        // copy of the exchange, which keeps every chat request's future smaller.
        let Ok(permit) = sender.reserve().await else {
            // The writers' runtime is gone (a test's runtime ended): write it here.
            return self.write_here(item).await;
        };
        let (stored, committed) = oneshot::channel();
        permit.send(Pending { item, stored });
        committed.await.unwrap_or_else(|_| Err(StoreError::Unavailable("the exchange writer stopped".into())))
    }

    /// Writes one exchange without the queue. Boxed: the store's future is kilobytes and the
    /// queued path, taken by every reply, would otherwise carry its size.
    fn write_here(&self, item: MeteredExchange) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>> {
        Box::pin(async move { self.store.conversations().record_exchanges(std::slice::from_ref(&item)).await })
    }

    /// The queue's sender, spawning the writers when there are none. `None` outside a runtime.
    fn sender(&self) -> Option<mpsc::Sender<Pending>> {
        let mut slot = self.sender.lock().ok()?;
        if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Some(sender.clone());
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        if let Some(writer) = self.store.blocking_exchange_writer() {
            std::thread::Builder::new()
                .name("tria-exchange-writer".into())
                .spawn(move || write_batches_blocking(&writer, receiver))
                .inspect_err(|error| tracing::warn!(%error, "starting the exchange writer failed; writing each exchange alone"))
                .ok()?;
            *slot = Some(sender.clone());
            return Some(sender);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(receiver));
        // SQLite has one writer at a time; PostgreSQL commits batches in parallel.
        let writers = match self.store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 0..writers {
            runtime.spawn(write_batches(self.store.clone(), queue.clone()));
        }
        *slot = Some(sender.clone());
        Some(sender)
    }
}

/// `first` and whatever else is queued, up to [`MAX_BATCH`], split into the exchanges and
/// whom to tell.
fn take_batch(
    first: Pending,
    receiver: &mut mpsc::Receiver<Pending>,
) -> (Vec<MeteredExchange>, Vec<oneshot::Sender<Result<(), StoreError>>>) {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch.into_iter().map(|p| (p.item, p.stored)).unzip()
}

/// The writer thread on a SQLite file; ends when the queue's senders are gone.
fn write_batches_blocking(writer: &BlockingExchangeWriter, mut receiver: mpsc::Receiver<Pending>) {
    while let Some(first) = receiver.blocking_recv() {
        let (items, senders) = take_batch(first, &mut receiver);
        match writer.record_exchanges(&items) {
            Ok(()) => senders.into_iter().for_each(|stored| drop(stored.send(Ok(())))),
            // As in `write_batches`: one bad exchange must not fail the others.
            Err(error) if items.len() > 1 => {
                tracing::debug!(%error, size = items.len(), "batched exchange write failed; writing one by one");
                for (item, stored) in items.iter().zip(senders) {
                    let _ = stored.send(writer.record_exchanges(std::slice::from_ref(item)));
                }
            }
            Err(error) => {
                if let Some(stored) = senders.into_iter().next() {
                    let _ = stored.send(Err(error));
                }
            }
        }
    }
}

async fn write_batches(store: Store, queue: Queue) {
    loop {
        let (items, senders) = {
            let mut receiver = queue.lock().await;
            let Some(first) = receiver.recv().await else { return };
            take_batch(first, &mut receiver)
        };
        match store.exchange_batches().record_exchanges(&items).await {
            Ok(()) => {
                for stored in senders {
                    let _ = stored.send(Ok(()));
                }
            }
            // One bad exchange (say, a session deleted meanwhile) must not fail the others:
            // retry each alone so every caller gets its own answer.
            Err(error) if items.len() > 1 => {
                tracing::debug!(%error, size = items.len(), "batched exchange write failed; writing one by one");
                for (item, stored) in items.iter().zip(senders) {
                    let _ = stored.send(store.exchange_batches().record_exchanges(std::slice::from_ref(item)).await);
                }
            }
            Err(error) => {
                if let Some(stored) = senders.into_iter().next() {
                    let _ = stored.send(Err(error));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tria_core::{ConversationId, MessageRole, ToneProfile};
    use tria_store::StoreError;
    use tria_store::repo::{Exchange, MeteredExchange, NewConversation, NewMessage, NewTenant};

    use super::ExchangeWriter;

    fn item(tenant: tria_core::TenantId, conversation: ConversationId, opens: bool) -> MeteredExchange {
        let exchange = Exchange {
            conversation,
            opens_conversation: opens.then(|| NewConversation { customer: None, channel: "api".into() }),
            user: NewMessage::new(MessageRole::User, "question"),
            assistant: NewMessage::new(MessageRole::Assistant, "answer"),
        };
        MeteredExchange { tenant, exchange, usage: None }
    }

    /// On SQLite the writer thread's path, on PostgreSQL (when configured) the tokio task's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_bad_exchange_in_a_batch_fails_alone_and_the_rest_are_stored() {
        for db in tria_testkit::all_backends().await {
            one_bad_exchange_fails_alone(&db).await;
            db.cleanup().await;
        }
    }

    async fn one_bad_exchange_fails_alone(db: &tria_testkit::TestDb) {
        let new = NewTenant {
            name: "Batch".into(),
            slug: "batch".into(),
            currency: "USD".into(),
            tone: ToneProfile::default(),
            settings: serde_json::json!({}),
        };
        let tenant = db.store.tenants().create(new).await.expect("tenant").id;
        let writer = Arc::new(ExchangeWriter::new(db.store.clone()));
        let unknown = ConversationId::new_random();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let writer = writer.clone();
                let (conversation, opens) = if i == 100 { (unknown, false) } else { (ConversationId::new_random(), true) };
                tokio::spawn(async move { (conversation, writer.record(item(tenant, conversation, opens)).await) })
            })
            .collect();
        let mut stored = 0;
        for task in tasks {
            let (conversation, result) = task.await.expect("task");
            if conversation == unknown {
                assert!(matches!(result, Err(StoreError::NotFound(_))), "{}: {result:?}", db.label);
            } else {
                result.expect("stored");
                assert_eq!(db.store.conversations().messages(tenant, conversation).await.expect("read").len(), 2);
                stored += 1;
            }
        }
        assert_eq!(stored, 199, "{}", db.label);
    }
}
