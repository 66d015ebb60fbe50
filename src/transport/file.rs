//! A device file: `/dev/usb/lp0` (the kernel's usblp driver), `/dev/lp0` (parallel port), or a plain file
//! for capturing bytes. The file is opened non-blocking and waited on with `poll`, so a printer that stops
//! taking data (out of paper, off line) makes a write time out instead of hanging the worker.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use super::{Transport, TransportError, Uri, remaining};

pub struct FileTransport {
    path: String,
    file: Option<File>,
    readable: bool,
}

impl FileTransport {
    pub fn open(path: &str) -> Result<FileTransport, TransportError> {
        let mut t = FileTransport { path: path.to_string(), file: None, readable: false };
        t.dial()?;
        Ok(t)
    }

    fn dial(&mut self) -> Result<(), TransportError> {
        let open = |read: bool| {
            std::fs::OpenOptions::new().read(read).write(true).custom_flags(libc::O_NONBLOCK).open(&self.path)
        };
        // usblp gives read-back for status; a parallel port or a capture file may be write-only.
        let (file, readable) = match open(true) {
            Ok(f) => (f, true),
            Err(_) => (open(false).map_err(|e| TransportError::Open { link: self.describe(), reason: e.to_string() })?, false),
        };
        self.file = Some(file);
        self.readable = readable;
        Ok(())
    }

    /// Waits until the file is ready for `events` or `timeout` passes. Returns whether it is ready.
    fn wait(file: &File, events: libc::c_short, timeout: Duration) -> std::io::Result<bool> {
        let mut pfd = libc::pollfd { fd: file.as_raw_fd(), events, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
        }
        if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 && pfd.revents & events == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(r > 0)
    }
}

impl Transport for FileTransport {
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), TransportError> {
        let link = self.describe();
        let Some(file) = self.file.as_mut() else {
            return Err(TransportError::Disconnected { link, sent: 0, reason: "device closed".into() });
        };
        let mut sent = 0;
        while sent < bytes.len() {
            let Some(left) = remaining(deadline) else {
                return Err(TransportError::Timeout { link, sent });
            };
            match Self::wait(file, libc::POLLOUT, left) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => {
                    self.file = None;
                    return Err(TransportError::from_io(&link, sent, &e));
                }
            }
            match file.write(&bytes[sent..]) {
                Ok(0) => return Err(TransportError::Disconnected { link, sent, reason: "device accepted no bytes".into() }),
                Ok(n) => sent += n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {}
                Err(e) => {
                    let err = TransportError::from_io(&link, sent, &e);
                    if err.is_disconnect() {
                        self.file = None;
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let link = self.describe();
        if !self.readable {
            return Ok(0);
        }
        let Some(file) = self.file.as_mut() else {
            return Err(TransportError::Disconnected { link, sent: 0, reason: "device closed".into() });
        };
        match Self::wait(file, libc::POLLIN, timeout) {
            Ok(false) => return Ok(0),
            Ok(true) => {}
            Err(e) => return Err(TransportError::from_io(&link, 0, &e)),
        }
        match file.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => Ok(0),
            Err(e) => Err(TransportError::from_io(&link, 0, &e)),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.file = None;
        self.dial()
    }

    fn describe(&self) -> String {
        Uri::File { path: self.path.clone() }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_to_a_plain_file_and_reads_nothing_back() {
        let dir = std::env::temp_dir().join(format!("labeld-file-transport-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("capture.bin");
        std::fs::write(&path, b"").unwrap();
        let mut t = FileTransport::open(path.to_str().unwrap()).unwrap();
        t.write_all(b"^XA^XZ", Instant::now() + Duration::from_secs(1)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"^XA^XZ");
        let e = FileTransport::open(dir.join("missing/lp0").to_str().unwrap()).err().unwrap();
        assert!(matches!(e, TransportError::Open { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
