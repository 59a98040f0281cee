//! Hand-rolled TCP servers, only for what no real server does on purpose: never answering, dripping a
//! body forever, or sending a malformed or truncated response.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server does with each connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Accepts, reads, never answers (until the server is dropped).
    Silent,
    /// Reads the request head, sends `head`, then one body byte every `every`, forever.
    Drip { head: &'static str, every: Duration },
    /// Reads the request head, sends these bytes, closes.
    Reply(Vec<u8>),
    /// Answers one request with a keep-alive `200 ok`, then closes: after `idle` if set, otherwise as
    /// soon as the next request arrives (without answering it).
    OneThenClose { idle: Option<Duration> },
}

/// A running raw server; stopped when dropped.
pub struct RawServer {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    pub fn start(behaviour: Behaviour) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let conns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (conns.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("raw-{}", addr.port()))
            .spawn(move || {
                let mut workers = Vec::new();
                while !s.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            c.fetch_add(1, Ordering::SeqCst);
                            let (b, s2) = (behaviour.clone(), s.clone());
                            workers.push(std::thread::spawn(move || serve(stream, b, &s2)));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                for w in workers {
                    let _ = w.join();
                }
            })
            .expect("spawn raw server");
        RawServer { addr, conns, stop, thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads until the end of the request head (or until nothing more comes).
fn read_head(stream: &mut TcpStream, stop: &AtomicBool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn serve(mut stream: TcpStream, behaviour: Behaviour, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    match behaviour {
        Behaviour::Silent => {
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                match stream.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => return,
                }
            }
        }
        Behaviour::Drip { head, every } => {
            read_head(&mut stream, stop);
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                if stream.write_all(b"x").is_err() {
                    return;
                }
            }
        }
        Behaviour::OneThenClose { idle } => {
            read_head(&mut stream, stop);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            match idle {
                Some(d) => std::thread::sleep(d),
                None => read_head(&mut stream, stop),
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Behaviour::Reply(bytes) => {
            read_head(&mut stream, stop);
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
            // Closing with unread request bytes would send RST; the request was read, so this is a FIN.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
