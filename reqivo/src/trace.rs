//! Optional `tracing` instrumentation (cargo feature `tracing`). Without the feature every item here
//! compiles to nothing, so the drivers call it unconditionally.

use std::future::Future;

use http::{Method, Uri};

/// A `tracing` debug event with target `reqivo`, written as a plain format string.
#[cfg(feature = "tracing")]
macro_rules! event {
    ($($arg:tt)*) => { ::tracing::debug!(target: "reqivo", $($arg)*) };
}

/// A `tracing` debug event (no-op: the `tracing` feature is off). The arguments are still type-checked.
#[cfg(not(feature = "tracing"))]
macro_rules! event {
    ($($arg:tt)*) => {
        if false {
            let _ = ::std::format_args!($($arg)*);
        }
    };
}

pub(crate) use event;

/// The span of one logical request (redirects and retries included).
#[cfg(feature = "tracing")]
pub(crate) fn request_span(method: &Method, url: &Uri) -> tracing::Span {
    tracing::debug_span!(target: "reqivo", "request", %method, %url)
}

/// Stands in for a span when the `tracing` feature is off.
#[cfg(not(feature = "tracing"))]
pub(crate) struct NoSpan;

#[cfg(not(feature = "tracing"))]
pub(crate) fn request_span(_method: &Method, _url: &Uri) -> NoSpan {
    NoSpan
}

/// Runs a blocking section inside `span`.
#[cfg(feature = "tracing")]
pub(crate) fn in_span_sync<T>(span: tracing::Span, f: impl FnOnce() -> T) -> T {
    span.in_scope(f)
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn in_span_sync<T>(_span: NoSpan, f: impl FnOnce() -> T) -> T {
    f()
}

/// Runs a future inside `span`.
#[cfg(feature = "tracing")]
pub(crate) fn in_span<F: Future>(span: tracing::Span, fut: F) -> impl Future<Output = F::Output> {
    tracing::Instrument::instrument(fut, span)
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn in_span<F: Future>(_span: NoSpan, fut: F) -> F {
    fut
}
