//! The virtual printer's links: a TCP listener (one task per connection) and a pseudo-terminal pair (one
//! thread reading the master side). Both feed [`Session`]s and apply the link faults (slow, drop).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serialport::SerialPort;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

use super::Config;
use super::engine::{Engine, Session};

/// Tells every link of one virtual printer to stop.
#[derive(Clone)]
pub struct StopHandle(Arc<watch::Sender<bool>>);

impl StopHandle {
    fn new() -> StopHandle {
        StopHandle(Arc::new(watch::channel(false).0))
    }
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
    /// Completes once [`StopHandle::stop`] has been called.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
}

/// Read size: small on a slow link so the throttle is smooth and the sender feels back-pressure.
fn read_size(cfg: &Config) -> usize {
    cfg.slow().map_or(16 * 1024, |bps| (bps as usize / 20).clamp(1, 4096))
}

/// Sleeps until `total` bytes are due at `bps` since `started`.
fn due(started: Instant, total: u64, bps: u32) -> Instant {
    started + Duration::from_secs_f64(total as f64 / bps as f64)
}

pub async fn serve_tcp(listen: SocketAddr, engine: Arc<Mutex<Engine>>, cfg: Arc<Config>) -> std::io::Result<(SocketAddr, StopHandle)> {
    let socket = if listen.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if let Some(bps) = cfg.slow() {
        // A slow printer has a small buffer: the sender must feel the slowness, not fill a 128 KB window.
        socket.set_recv_buffer_size(bps.clamp(1024, 64 * 1024))?;
    }
    socket.bind(listen)?;
    let listener = socket.listen(64)?;
    let addr = listener.local_addr()?;
    let stop = StopHandle::new();
    let stop2 = stop.clone();
    tokio::spawn(async move {
        let stopped = stop2.stopped();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(stream, engine.clone(), cfg.clone(), stop2.clone()));
                    }
                    Err(e) => {
                        eprintln!("virtual printer: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    });
    Ok((addr, stop))
}

async fn connection(mut stream: TcpStream, engine: Arc<Mutex<Engine>>, cfg: Arc<Config>, stop: StopHandle) {
    let _ = stream.set_nodelay(true);
    let mut session = Session::new(engine.clone(), &cfg);
    let mut buf = vec![0u8; read_size(&cfg)];
    let started = Instant::now();
    let mut total = 0u64;
    let stopped = stop.stopped();
    tokio::pin!(stopped);
    loop {
        let read = tokio::select! {
            r = stream.read(&mut buf) => r,
            _ = &mut stopped => return session.abandon("virtual printer stopped"),
        };
        let n = match read {
            Ok(0) => {
                if let Err(e) = session.finish() {
                    eprintln!("virtual printer: cannot save label: {e}");
                }
                return;
            }
            Ok(n) => n,
            Err(e) => return session.abandon(&format!("link error: {e}")),
        };
        let (take, drop_now) = engine.lock().expect("engine lock").take_bytes(n);
        let reply = match session.feed(&buf[..take]) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("virtual printer: cannot save label: {e}");
                return session.abandon("could not save a label");
            }
        };
        if drop_now {
            // Reset, not a clean close: the sender's next write or read fails, as when a cable is pulled.
            let _ = stream.set_zero_linger();
            drop(stream);
            return session.abandon("connection dropped (drop-after-bytes fault)");
        }
        if !reply.is_empty() && stream.write_all(&reply).await.is_err() {
            return session.abandon("could not send a status answer");
        }
        if let Some(bps) = cfg.slow() {
            total += take as u64;
            tokio::time::sleep_until(due(started, total, bps).into()).await;
        }
    }
}

/// Opens a pseudo-terminal pair and serves its master side from a thread. Returns the slave's path, which
/// a client opens like any serial port.
pub fn serve_pty(engine: Arc<Mutex<Engine>>, cfg: Arc<Config>, stop: StopHandle) -> std::io::Result<PathBuf> {
    let (mut master, slave) = serialport::TTYPort::pair().map_err(std::io::Error::from)?;
    let path = PathBuf::from(slave.name().ok_or_else(|| std::io::Error::other("pty slave has no name"))?);
    master.set_timeout(Duration::from_millis(50)).map_err(std::io::Error::from)?;
    std::thread::Builder::new().name("virtual-printer-pty".into()).spawn(move || {
        // Holding the slave open keeps the master readable between clients (no EIO when one closes).
        let _slave = slave;
        let mut session = Session::new(engine.clone(), &cfg);
        let mut buf = vec![0u8; read_size(&cfg)];
        let started = Instant::now();
        let mut total = 0u64;
        let mut cycles = engine.lock().expect("engine lock").power_cycles;
        while !stop.is_stopped() {
            let now = engine.lock().expect("engine lock").power_cycles;
            if now != cycles {
                cycles = now;
                session.abandon("power cycle");
                session = Session::new(engine.clone(), &cfg);
            }
            let n = match master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => continue,
                Err(e) => {
                    eprintln!("virtual printer: pty read failed: {e}");
                    return session.abandon("pty closed");
                }
            };
            let (take, drop_now) = engine.lock().expect("engine lock").take_bytes(n);
            match session.feed(&buf[..take]) {
                Ok(reply) if !reply.is_empty() => {
                    if let Err(e) = master.write_all(&reply) {
                        eprintln!("virtual printer: pty write failed: {e}");
                    }
                }
                Ok(_) => {}
                Err(e) => eprintln!("virtual printer: cannot save label: {e}"),
            }
            if drop_now {
                // A serial line cannot be hung up from this side; the printer forgets the half label instead,
                // as after a power cycle.
                session.abandon("link reset (drop-after-bytes fault)");
                session = Session::new(engine.clone(), &cfg);
            }
            if let Some(bps) = cfg.slow() {
                total += take as u64;
                let wait = due(started, total, bps).saturating_duration_since(Instant::now());
                std::thread::sleep(wait);
            }
        }
    })?;
    Ok(path)
}
