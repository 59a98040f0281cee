//! The async driver: [`AsyncSession`] and [`AsyncBody`] on tokio. Every file here mirrors the file of the
//! same name in `blocking/`; a check in CI diffs them.

mod body;
mod connect;
mod pump;
mod session;
mod websocket;
mod ws_link;
mod ws_split;

pub use body::AsyncBody;
pub use session::AsyncSession;
pub use websocket::{AsyncWebSocket, AsyncWsReader, AsyncWsWriter};
