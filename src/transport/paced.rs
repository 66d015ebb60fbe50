//! A link that behaves like a UART, for tests: a small transmit buffer (4 KB by default) between the
//! sender and the printer, drained onto the wrapped link at a fixed byte rate (960 B/s is 9600 baud).
//!
//! A pseudo-terminal buffers tens of kilobytes and passes them at memory speed, so a test over a bare pty
//! never sees what a 9600-baud printer does to a sender: writes that block for seconds, and a label's tail
//! still on the wire after the last write returned. Wrapping the pty (or a TCP link) in [`Paced`] brings
//! both back. Reads go straight to the wrapped link; a status query written behind a label is answered
//! only after the label has drained, as on a real line.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{Transport, TransportError, remaining};

/// How often the wire thread moves bytes.
const TICK: Duration = Duration::from_millis(20);

struct Wire {
    buffer: VecDeque<u8>,
    capacity: usize,
    /// The wrapped link failed while draining: the next write or read reports it.
    broken: Option<String>,
    stop: bool,
}

/// A UART-like link over another link.
pub struct Paced {
    inner: Arc<Mutex<Box<dyn Transport>>>,
    wire: Arc<(Mutex<Wire>, Condvar)>,
    describe: String,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Paced {
    /// Wraps `inner`: at most `buffer` bytes wait, drained at `bytes_per_second`.
    pub fn new(inner: Box<dyn Transport>, bytes_per_second: u32, buffer: usize) -> Paced {
        let describe = inner.describe();
        let inner = Arc::new(Mutex::new(inner));
        let wire = Arc::new((Mutex::new(Wire { buffer: VecDeque::new(), capacity: buffer.max(1), broken: None, stop: false }), Condvar::new()));
        let (i, w) = (inner.clone(), wire.clone());
        let thread = std::thread::Builder::new()
            .name("paced-link".into())
            .spawn(move || drain(i, w, bytes_per_second.max(1)))
            .expect("spawning the paced link's thread");
        Paced { inner, wire, describe, thread: Some(thread) }
    }
}

/// Moves bytes from the buffer onto the wrapped link at the line rate.
fn drain(inner: Arc<Mutex<Box<dyn Transport>>>, wire: Arc<(Mutex<Wire>, Condvar)>, rate: u32) {
    let (lock, cvar) = &*wire;
    let mut credit = 0.0f64;
    let mut last = Instant::now();
    loop {
        let chunk: Vec<u8> = {
            let mut w = lock.lock().unwrap_or_else(|p| p.into_inner());
            while w.buffer.is_empty() && !w.stop {
                w = cvar.wait(w).unwrap_or_else(|p| p.into_inner());
                // An idle line earns no credit.
                last = Instant::now();
                credit = 0.0;
            }
            if w.stop {
                return;
            }
            let now = Instant::now();
            credit = (credit + now.duration_since(last).as_secs_f64() * rate as f64).min(rate as f64);
            last = now;
            let n = (credit as usize).min(w.buffer.len());
            credit -= n as f64;
            w.buffer.drain(..n).collect()
        };
        if !chunk.is_empty() {
            let res = inner.lock().unwrap_or_else(|p| p.into_inner()).write_all(&chunk, Instant::now() + Duration::from_secs(10));
            let (lock, cvar) = &*wire;
            if let Err(e) = res {
                let mut w = lock.lock().unwrap_or_else(|p| p.into_inner());
                w.broken = Some(e.to_string());
                w.buffer.clear();
            }
            cvar.notify_all();
        }
        std::thread::sleep(TICK);
    }
}

impl Transport for Paced {
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), TransportError> {
        let (lock, cvar) = &*self.wire;
        let mut sent = 0;
        let mut w = lock.lock().unwrap_or_else(|p| p.into_inner());
        while sent < bytes.len() {
            if let Some(reason) = w.broken.take() {
                return Err(TransportError::Disconnected { link: self.describe.clone(), sent, reason });
            }
            let room = w.capacity.saturating_sub(w.buffer.len());
            if room > 0 {
                let n = room.min(bytes.len() - sent);
                w.buffer.extend(&bytes[sent..sent + n]);
                sent += n;
                cvar.notify_all();
                continue;
            }
            let Some(left) = remaining(deadline) else {
                return Err(TransportError::Timeout { link: self.describe.clone(), sent });
            };
            w = cvar.wait_timeout(w, left.min(TICK)).unwrap_or_else(|p| p.into_inner()).0;
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(reason) = self.wire.0.lock().unwrap_or_else(|p| p.into_inner()).broken.take() {
                return Err(TransportError::Disconnected { link: self.describe.clone(), sent: 0, reason });
            }
            // Short reads, so the wire thread gets the link between them.
            let Some(left) = remaining(deadline) else { return Ok(0) };
            let n = self.inner.lock().unwrap_or_else(|p| p.into_inner()).read(buf, left.min(TICK))?;
            if n > 0 {
                return Ok(n);
            }
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.wire.0.lock().unwrap_or_else(|p| p.into_inner()).buffer.clear();
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).reconnect()
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        // Unplugged: what waited in the buffer never reaches the printer.
        {
            let mut w = self.wire.0.lock().unwrap_or_else(|p| p.into_inner());
            w.stop = true;
            w.buffer.clear();
        }
        self.wire.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
