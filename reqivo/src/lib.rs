//! # reqivo
//!
//! An async-first HTTP/1.1 client with a native blocking twin, both driving one sans-IO core
//! ([`reqivo_proto`]).
//!
//! - [`AsyncSession`] (tokio) is the front door; [`Session`] has the same methods, parameters and
//!   behaviour on blocking `std::net` sockets — no hidden runtime, no helper thread.
//! - Both share one [`SessionBuilder`], one [`Error`] type with a [`kind`](Error::kind), and one
//!   [`Response`] type whose head accessors are the same; only the body type differs
//!   ([`AsyncBody`] implements `AsyncRead`, [`Body`] implements `io::Read`).
//! - Connections are pooled per origin (LIFO), checked before reuse, and never returned dirty.
//! - Cookies are kept per session by default ([`CookieJar`], RFC 6265), redirects and WebSocket
//!   handshakes included; [`SessionBuilder::cookie_store`] turns that off.
//!
//! ## Async
//!
//! ```no_run
//! # async fn demo() -> Result<(), reqivo::Error> {
//! let session = reqivo::AsyncSession::builder().build()?;
//! let resp = session.get("http://127.0.0.1:8080/").send().await?;
//! println!("{} {}", resp.status(), resp.text().await?);
//! # Ok(()) }
//! ```
//!
//! ## Blocking
//!
//! ```no_run
//! # fn main() -> Result<(), reqivo::Error> {
//! let session = reqivo::Session::builder().build()?;
//! let resp = session.get("http://127.0.0.1:8080/").send()?;
//! println!("{} {}", resp.status(), resp.text()?);
//! # Ok(()) }
//! ```
//!
//! ## Cargo features
//!
//! - `json` (default): `RequestBuilder::json` and `Response::json` with serde.
//! - `gzip` (default): `Accept-Encoding: gzip` and transparent decoding (see `SessionBuilder::gzip`).
//! - `tracing`: a debug span per request (target `reqivo`) with events for connects, reuse, retries,
//!   redirects and response heads.
#![warn(missing_docs)]

mod body;
mod config;
mod cookies;
mod error;
mod exchange;
mod net;
mod pool;
mod request;
mod response;
mod tls;
mod trace;
pub mod websocket;

pub mod blocking;
pub mod tokio;

pub use blocking::{Body, Session, WebSocket};
pub use config::SessionBuilder;
pub use cookies::{Cookie, CookieJar};
pub use error::{Error, ErrorKind, Result, TimeoutPhase};
pub use request::{Driver, IntoUrl, RequestBuilder};
pub use response::{Response, Timings};
pub use tokio::{AsyncBody, AsyncSession, AsyncWebSocket, AsyncWsReader, AsyncWsWriter};
pub use websocket::{close_code, CloseFrame, Message, ReconnectPolicy, WebSocketBuilder};

pub use http::{self, header, HeaderMap, Method, StatusCode, Uri, Version};
pub use reqivo_proto::pool::PoolStats;

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
