//! With the `tracing` feature, each request runs in a `request` span and reports its connect and its
//! response as events, on both drivers. Run with `cargo test -p reqivo --features tracing --test tracing`.
#![cfg(feature = "tracing")]

mod support;

use std::sync::{Arc, Mutex};

use support::hyper_server::HyperServer;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records span names and event messages; enough to check what reqivo reports.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: Arc<Mutex<u64>>,
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Message(String::new());
        span.record(&mut fields);
        self.lines.lock().unwrap().push(format!("span {} {}", span.metadata().name(), fields.0));
        let mut id = self.next_id.lock().unwrap();
        *id += 1;
        Id::from_u64(*id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Message(String::new());
        event.record(&mut fields);
        self.lines.lock().unwrap().push(format!("event {}", fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn check(lines: &[String], url: &str) {
    let text = lines.join("\n");
    assert!(text.contains(&format!("span request method=GET url={url}")), "{text}");
    assert!(text.contains("connected to 127.0.0.1:"), "{text}");
    assert!(text.contains("response 200 OK (reused connection: false)"), "{text}");
    assert!(text.contains("response 200 OK (reused connection: true)"), "{text}");
}

#[test]
fn async_requests_are_traced() {
    let server = HyperServer::start();
    let url = server.url("/hello");
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let session = reqivo::AsyncSession::builder().build().unwrap();
            for _ in 0..2 {
                session.get(&url).send().await.unwrap().bytes().await.unwrap();
            }
        });
    });
    check(&recorder.lines.lock().unwrap(), &url);
}

#[test]
fn sync_requests_are_traced() {
    let server = HyperServer::start();
    let url = server.url("/hello");
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let session = reqivo::Session::builder().build().unwrap();
        for _ in 0..2 {
            session.get(&url).send().unwrap().bytes().unwrap();
        }
    });
    check(&recorder.lines.lock().unwrap(), &url);
}
