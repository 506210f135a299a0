//! Log output (pretty for people, JSON lines for machines) and, when the standard
//! `OTEL_EXPORTER_OTLP_*` variables name a collector, OpenTelemetry traces over OTLP/HTTP
//! (protobuf). Off by default: with no endpoint set nothing is exported and nothing is paid.
//! Incoming W3C `traceparent` headers continue the caller's trace.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};
use tria_config::LogFormat;

/// Where traces go. Built from the environment by the binary, passed in directly by tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceExport {
    /// A full OTLP/HTTP traces URL (`…/v1/traces`), or `None` to let the exporter resolve
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` itself.
    pub endpoint: Option<String>,
    pub service_name: String,
}

impl TraceExport {
    /// Export is on when an OTLP endpoint variable is set, unless `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none`. `lookup` reads a variable (the binary passes `std::env::var`).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
        {
            return None;
        }
        set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
        Some(Self { endpoint: None, service_name: set("OTEL_SERVICE_NAME").unwrap_or_else(|| "tria-server".to_owned()) })
    }
}

/// Builds the tracer provider (batching, exporting on a background thread).
pub fn tracer_provider(export: &TraceExport) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary);
    if let Some(endpoint) = &export.endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    let exporter = builder.build()?;
    let resource = Resource::builder().with_service_name(export.service_name.clone()).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `provider`.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("tria-server"))
}

/// Installs the global subscriber. `RUST_LOG` wins over the configured filter when set.
/// Returns the tracer provider when export is on; shut it down before exit to flush spans.
pub fn init(format: LogFormat, filter: &str, export: Option<&TraceExport>) -> Option<SdkTracerProvider> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(filter)).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match format {
        LogFormat::Json => {
            tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true).with_writer(std::io::stderr).boxed()
        }
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().with_writer(std::io::stderr).boxed(),
    };
    let provider = export.and_then(|export| match tracer_provider(export) {
        Ok(provider) => Some(provider),
        Err(err) => {
            // Logging is not up yet; a broken exporter must not stop the service.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("tria-server: OTLP trace export disabled: {err}");
            }
            None
        }
    });
    let otel = provider.as_ref().map(otel_layer::<Registry>);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry().with(otel).with(fmt.with_filter(filter)).try_init();
    provider
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the trace named in an incoming `traceparent` header, if any.
pub(crate) fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}

/// Writes the `traceparent` of `span` into `headers` (responses; outgoing calls).
pub fn inject_trace(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let cx = span.context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}
