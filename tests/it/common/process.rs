//! A `labeld` child process that is always killed and reaped, even when a test panics, and free
//! loopback ports for it to listen on.

use std::path::PathBuf;
use std::process::Child;

pub struct Daemon {
    pub child: Child,
    /// Where its stderr (the logs) goes, for failure messages and privacy checks.
    pub log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
