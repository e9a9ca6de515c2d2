//! Logs and traces: the process-global `tracing` subscriber, and when `traces.otlp_endpoint`
//! is set an OpenTelemetry exporter sending the call's spans over OTLP/HTTP (protobuf).
//!
//! The spans themselves are made where the work is (`http/otel.rs` for the call, then the
//! account, mapping, provider-attempt and store steps) under the target [`SPAN_TARGET`].
//! Log lines never show them: the log filter turns that target off, so with traces off
//! every such span is disabled at its call site (one atomic load, no allocation), and with
//! traces on only the OpenTelemetry layer sees them. Events (log lines) are never exported.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use secrecy::ExposeSecret as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

use crate::config::{LogFormat, TracesConfig};

/// The target of every span meant for traces (a literal in the span macros, which need one).
pub const SPAN_TARGET: &str = "unigate_otel";

/// What [`init`] set up; [`Telemetry::shutdown`] sends the spans still buffered.
#[must_use = "dropping it loses the spans not yet exported; call `shutdown` on the way out"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Installs the global subscriber: log lines on stderr (`UNIGATE_LOG` filter, default
/// `info`; ANSI colours only when stderr is a terminal), and the trace exporter when
/// `traces` has an endpoint. `runtime` runs the exporter's HTTP requests.
pub fn init(format: LogFormat, traces: &TracesConfig, runtime: &tokio::runtime::Handle) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNIGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn"))
        .add_directive(format!("{SPAN_TARGET}=off").parse().context("the log filter")?);
    let Some(url) = traces.traces_url() else {
        // Without traces the log filter is the whole subscriber's, not the log layer's
        // own: a per-layer `EnvFilter` whose directives differ by target (the default's
        // `sqlx=warn`) drops the event after any `enabled` query it answers no to without
        // an event following, such as sqlx's `log` checks on PostgreSQL; "unigate is
        // listening" was lost that way (tokio-rs/tracing#2519).
        tracing_subscriber::registry()
            .with(filter)
            .with(log_layer(format))
            .try_init()
            .context("installing the log subscriber")?;
        return Ok(Telemetry { provider: None });
    };
    // With traces, each layer filters for itself: the trace layer wants the spans the log
    // filter turns off. Its `filter_fn` gives every callsite the interest "sometimes", so
    // each event and span asks the filters again and the bug above cannot happen.
    let registry = tracing_subscriber::registry().with(log_layer(format).with_filter(filter));
    let provider = provider(traces, &url, runtime)?;
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("unigate"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_level(false)
        .with_tracked_inactivity(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.is_span() && m.target() == SPAN_TARGET
        }));
    registry
        .with(layer)
        .try_init()
        .context("installing the log subscriber")?;
    tracing::info!(endpoint = %url, sample_ratio = traces.sample_ratio, "exporting traces over OTLP");
    Ok(Telemetry {
        provider: Some(provider),
    })
}

/// The log lines on stderr, in `format`; ANSI colours only when stderr is a terminal.
fn log_layer<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    }
}

fn provider(traces: &TracesConfig, url: &str, runtime: &tokio::runtime::Handle) -> anyhow::Result<SdkTracerProvider> {
    let timeout = Duration::from_millis(traces.export_timeout_ms);
    let headers: HashMap<String, String> = traces
        .otlp_headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose_secret().to_string()))
        .collect();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .context("building the OTLP client")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(timeout)
        .with_headers(headers)
        .with_http_client(OtlpClient {
            client,
            runtime: runtime.clone(),
        })
        .build()
        .context("traces.otlp_endpoint")?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(traces.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        // A caller's `traceparent` decides (sampled or not); else the ratio.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            traces.sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

impl Telemetry {
    /// Exports the spans still buffered (bounded by the export timeout). Blocking: it runs on
    /// a blocking thread, since the export itself needs the runtime (one thread, possibly).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => tracing::info!("traces flushed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the last traces could not be exported"),
            Err(e) => tracing::warn!(error = %e, "the last traces could not be exported"),
        }
    }
}

/// The exporter's HTTP client: the reqwest already in the tree (the OTLP crate's own
/// clients would bring reqwest 0.13 or a blocking one). The SDK exports from its own thread,
/// outside the runtime, so each request is spawned onto `runtime` and awaited from there.
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// The largest collector answer read (an OTLP answer is a few bytes, a partial-success
/// message at most).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let client = self.client.clone();
        let answer = self.runtime.spawn(async move {
            let mut response = client.execute(request).await?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, opentelemetry_http::HttpError>(builder.body(bytes::Bytes::from(body))?)
        });
        answer.await?
    }
}
