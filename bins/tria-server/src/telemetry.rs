//! Log output (pretty for people, JSON lines for machines) and, when the standard
//! `OTEL_EXPORTER_OTLP_*` variables name a collector, OpenTelemetry traces over OTLP — gRPC or
//! HTTP/protobuf, as `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` says. Off by default: with no
//! endpoint set nothing is exported and nothing is paid. Incoming W3C `traceparent` headers
//! continue the caller's trace.

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

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc` or `http/protobuf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC (a collector's port 4317).
    Grpc,
    /// HTTP with protobuf bodies (port 4318, `…/v1/traces`): the specification's default.
    HttpProtobuf,
}

impl OtlpProtocol {
    fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" => Ok(Self::HttpProtobuf),
            other => Err(format!("`{other}` is not supported (use `grpc` or `http/protobuf`)")),
        }
    }
}

/// Where traces go. Built from the environment by the binary, passed in directly by tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceExport {
    /// The collector: a full traces URL for HTTP (`…/v1/traces`) or `http://host:4317` for
    /// gRPC; `None` lets the exporter resolve `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` itself.
    pub endpoint: Option<String>,
    pub protocol: OtlpProtocol,
    pub service_name: String,
}

impl TraceExport {
    /// Export is on when an OTLP endpoint variable is set, unless `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none`. `lookup` reads a variable (the binary passes `std::env::var`).
    /// An unsupported protocol is an error naming the variable.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let set = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
        {
            return Ok(None);
        }
        if set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT")).is_none() {
            return Ok(None);
        }
        let protocol = match ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"].iter().find_map(|k| Some((*k, set(k)?)))
        {
            Some((name, value)) => OtlpProtocol::parse(&value).map_err(|e| format!("{name}: {e}"))?,
            None => OtlpProtocol::HttpProtobuf,
        };
        Ok(Some(Self { endpoint: None, protocol, service_name: set("OTEL_SERVICE_NAME").unwrap_or_else(|| "tria-server".to_owned()) }))
    }
}

/// Builds the tracer provider (batching, exporting in the background). A gRPC exporter needs
/// a Tokio runtime to be running.
pub fn tracer_provider(export: &TraceExport) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = match export.protocol {
        OtlpProtocol::HttpProtobuf => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary);
            if let Some(endpoint) = &export.endpoint {
                builder = builder.with_endpoint(endpoint.clone());
            }
            builder.build()?
        }
        OtlpProtocol::Grpc => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_protocol(Protocol::Grpc);
            if let Some(endpoint) = &export.endpoint {
                builder = builder.with_endpoint(endpoint.clone());
            }
            builder.build()?
        }
    };
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
/// Whether `filter` parses as a log filter (`info`, `tria_server=debug,warn`, …): a typo must
/// stop the server at start, not silently log at `info`.
pub fn check_log_filter(filter: &str) -> Result<(), String> {
    EnvFilter::try_new(filter).map(drop).map_err(|e| e.to_string())
}

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

/// The W3C trace headers of the current span, for an outgoing call (the LLM client's header
/// source). Empty when tracing export is off.
pub fn outgoing_trace_headers() -> Vec<(String, String)> {
    let mut headers = http::HeaderMap::new();
    inject_trace(&tracing::Span::current(), &mut headers);
    headers.iter().filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))).collect()
}
