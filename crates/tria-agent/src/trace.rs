//! Per-stage timings of one message, each stage also a `tracing` span (exported over OTLP by
//! the server). The timings are what `POST /api/chat?debug=true` shows a tenant.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::Serialize;
use tracing::Instrument;

/// The stages of the pipeline, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Session,
    Cache,
    Intent,
    Retrieval,
    Generation,
    Validation,
    Tone,
    Persist,
}

const STAGES: usize = 8;

impl Stage {
    fn index(self) -> usize {
        self as usize
    }

    /// The stage's span (one static name per stage, so traces group by stage).
    pub(crate) fn span(self) -> tracing::Span {
        match self {
            Stage::Session => tracing::info_span!("session"),
            Stage::Cache => tracing::info_span!("cache"),
            Stage::Intent => tracing::info_span!("intent"),
            Stage::Retrieval => tracing::info_span!("retrieval"),
            Stage::Generation => tracing::info_span!("generation"),
            Stage::Validation => tracing::info_span!("validation"),
            Stage::Tone => tracing::info_span!("tone"),
            Stage::Persist => tracing::info_span!("persist"),
        }
    }
}

/// Time spent per stage in one request; shared by reference with the closures the cache runs.
#[derive(Debug)]
pub(crate) struct StageClock {
    nanos: [AtomicU64; STAGES],
    /// When the turn began: its LLM deadline counts from here.
    started: Instant,
}

impl Default for StageClock {
    fn default() -> Self {
        Self { nanos: Default::default(), started: Instant::now() }
    }
}

impl StageClock {
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    pub(crate) fn add(&self, stage: Stage, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.nanos[stage.index()].fetch_add(nanos, Ordering::Relaxed);
    }

    /// Runs `f` inside the stage's span and adds its time.
    pub(crate) fn time<T>(&self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = stage.span().in_scope(f);
        self.add(stage, started.elapsed());
        out
    }

    /// Awaits `fut` inside the stage's span and adds its time.
    /// A combinator, not an `async fn`: an `async fn` keeps its future argument and the awaited
    /// copy side by side, doubling the size of every future that awaits a stage.
    pub(crate) fn time_async<'a, F>(&'a self, stage: Stage, fut: F) -> impl Future<Output = F::Output> + 'a
    where
        F: Future + 'a,
    {
        let started = Instant::now();
        fut.instrument(stage.span()).map(move |out| {
            self.add(stage, started.elapsed());
            out
        })
    }

    fn ms(&self, stage: Stage) -> f64 {
        self.nanos[stage.index()].load(Ordering::Relaxed) as f64 / 1e6
    }

    /// The timings; `cache_total` is the whole cache stage including what it ran on a miss
    /// (intent, retrieval, generation, validation, tone), which are subtracted out.
    pub(crate) fn timings(&self, cache_total: Duration) -> StageTimings {
        let inner =
            [Stage::Intent, Stage::Retrieval, Stage::Generation, Stage::Validation, Stage::Tone].iter().map(|s| self.ms(*s)).sum::<f64>();
        let cache = (cache_total.as_secs_f64() * 1e3 - inner).max(0.0);
        StageTimings {
            session: round(self.ms(Stage::Session)),
            cache: round(cache),
            intent: round(self.ms(Stage::Intent)),
            retrieval: round(self.ms(Stage::Retrieval)),
            generation: round(self.ms(Stage::Generation)),
            validation: round(self.ms(Stage::Validation)),
            tone: round(self.ms(Stage::Tone)),
            persist: round(self.ms(Stage::Persist)),
        }
    }
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Milliseconds per stage (microsecond resolution). A stage that did not run is 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StageTimings {
    pub session: f64,
    /// Cache lookups and fills (L1/L2/L3), without the stages a miss ran.
    pub cache: f64,
    pub intent: f64,
    pub retrieval: f64,
    /// The LLM call(s) and the offline responder.
    pub generation: f64,
    /// Grounding and output checks of LLM replies.
    pub validation: f64,
    pub tone: f64,
    pub persist: f64,
}

/// What `?debug=true` adds to a reply: stage timings and what the context stage decided.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChatDebug {
    pub timings_ms: StageTimings,
    /// The message as the pipeline answered it when it was resolved as a follow-up.
    pub resolved_message: Option<String>,
    /// Earlier turns sent as history, and their cl100k tokens.
    pub history_messages: usize,
    pub history_tokens: u32,
    /// Why the conversation was handed off, when this message did it.
    pub handoff_reason: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stage_excludes_the_stages_it_ran() {
        let clock = StageClock::default();
        clock.add(Stage::Intent, Duration::from_millis(2));
        clock.add(Stage::Generation, Duration::from_millis(5));
        clock.add(Stage::Persist, Duration::from_millis(1));
        let t = clock.timings(Duration::from_millis(10));
        assert_eq!((t.intent, t.generation, t.cache, t.persist), (2.0, 5.0, 3.0, 1.0));
        assert_eq!(clock.time(Stage::Tone, || 7), 7);
    }
}
