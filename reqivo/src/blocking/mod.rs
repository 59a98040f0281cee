//! The blocking driver: [`Session`] and [`Body`] on `std::net` sockets. Every file here mirrors the file
//! of the same name in `tokio/`; a check in CI diffs them.

mod body;
mod connect;
mod pump;
mod session;
mod websocket;
mod ws_link;

pub use body::Body;
pub use session::Session;
pub use websocket::WebSocket;
