//! Raw TCP ("JetDirect", port 9100): the printer prints whatever arrives on the socket and answers status
//! queries on the same socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Transport, TransportError, remaining};

pub struct TcpTransport {
    host: String,
    port: u16,
    connect_timeout: Duration,
    stream: Option<TcpStream>,
}

impl TcpTransport {
    /// Connects, trying each address the host resolves to, each for at most `connect_timeout`.
    pub fn connect(host: &str, port: u16, connect_timeout: Duration) -> Result<TcpTransport, TransportError> {
        let mut t = TcpTransport { host: host.to_string(), port, connect_timeout, stream: None };
        t.stream = Some(t.dial()?);
        Ok(t)
    }

    fn dial(&self) -> Result<TcpStream, TransportError> {
        let open_err = |reason: String| TransportError::Open { link: self.describe(), reason };
        let addrs: Vec<SocketAddr> =
            (self.host.as_str(), self.port).to_socket_addrs().map_err(|e| open_err(format!("cannot resolve host: {e}")))?.collect();
        let mut last = String::from("host resolved to no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(s) => {
                    // Labels are written in one go; don't let Nagle hold back the tail of a status query.
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(open_err(last))
    }

    fn stream(&mut self) -> Result<&mut TcpStream, TransportError> {
        let link = self.describe();
        self.stream.as_mut().ok_or(TransportError::Disconnected { link, sent: 0, reason: "not connected".into() })
    }
}

impl Transport for TcpTransport {
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), TransportError> {
        let link = self.describe();
        let stream = self.stream()?;
        let mut sent = 0;
        while sent < bytes.len() {
            let Some(left) = remaining(deadline) else {
                return Err(TransportError::Timeout { link, sent });
            };
            stream.set_write_timeout(Some(left)).map_err(|e| TransportError::from_io(&link, sent, &e))?;
            match stream.write(&bytes[sent..]) {
                Ok(0) => return Err(TransportError::Disconnected { link, sent, reason: "peer closed".into() }),
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let err = TransportError::from_io(&link, sent, &e);
                    if err.is_disconnect() {
                        self.stream = None;
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let link = self.describe();
        let stream = self.stream()?;
        stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(|e| TransportError::from_io(&link, 0, &e))?;
        match stream.read(buf) {
            Ok(0) => {
                self.stream = None;
                Err(TransportError::Disconnected { link, sent: 0, reason: "peer closed the connection".into() })
            }
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Ok(0),
            Err(e) => Err(TransportError::from_io(&link, 0, &e)),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.stream = None;
        self.stream = Some(self.dial()?);
        Ok(())
    }

    fn describe(&self) -> String {
        super::Uri::Tcp { host: self.host.clone(), port: self.port }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_quiet_and_closed_peers() {
        // A port nobody listens on: an Open error that names the link.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = TcpTransport::connect("127.0.0.1", free, Duration::from_secs(1)).err().unwrap();
        assert!(matches!(e, TransportError::Open { .. }) && e.to_string().contains(&format!("tcp://127.0.0.1:{free}")), "{e}");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut t = TcpTransport::connect("127.0.0.1", port, Duration::from_secs(1)).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        t.write_all(b"~HS", Instant::now() + Duration::from_secs(1)).unwrap();
        let mut got = [0u8; 3];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"~HS");
        // A quiet printer: nothing within the timeout is not an error.
        let mut buf = [0u8; 8];
        assert_eq!(t.read(&mut buf, Duration::from_millis(20)).unwrap(), 0);
        peer.write_all(b"\x00").unwrap();
        assert_eq!(t.read(&mut buf, Duration::from_secs(1)).unwrap(), 1);
        // The printer closes: disconnected, and reconnect opens a fresh connection.
        drop(peer);
        assert!(t.read(&mut buf, Duration::from_secs(1)).unwrap_err().is_disconnect());
        t.reconnect().unwrap();
        let (_peer2, _) = listener.accept().unwrap();
        t.write_all(b"x", Instant::now() + Duration::from_secs(1)).unwrap();
    }
}
