//! An origin that answers with a chunked body, written a chunk at a time with a pause
//! between chunks, so a proxy hands each to its filters as a separate body callback:
//! how a value split across chunks is shown to the filters of a real host.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

/// One route's answer.
#[derive(Debug, Clone)]
pub struct ChunkedReply {
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
}

/// The answer for a request path.
pub type Routes = Arc<dyn Fn(&str) -> Option<ChunkedReply> + Send + Sync>;

/// A running origin; dropping it stops it.
pub struct ChunkedOrigin {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The pause between chunks: long enough for the proxy to forward each on its own.
const PAUSE: Duration = Duration::from_millis(30);

impl ChunkedOrigin {
    pub fn start(routes: Routes) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let routes = Arc::clone(&routes);
                        std::thread::spawn(move || {
                            let _ = serve(conn, &routes);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ChunkedOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, routes: &Routes) -> Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    // One request per connection (bounded by the read timeout and the header count).
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    for _ in 0..200 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    std::io::Read::read_exact(&mut reader, &mut body)?;
    let mut conn = conn;
    let Some(reply) = routes(&path) else {
        conn.write_all(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let mut head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n",
        reply.content_type
    );
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.flush()?;
    for c in &reply.chunks {
        std::thread::sleep(PAUSE);
        conn.write_all(format!("{:x}\r\n", c.len()).as_bytes())?;
        conn.write_all(c)?;
        conn.write_all(b"\r\n")?;
        conn.flush()?;
    }
    std::thread::sleep(PAUSE);
    conn.write_all(b"0\r\n\r\n")?;
    conn.flush()?;
    Ok(())
}
