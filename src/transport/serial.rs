//! Serial links (RS-232, USB-serial adapters, Bluetooth SPP ttys) through the `serialport` crate, built
//! without libudev. Many label printers default to 9600 baud, 8N1; RTS/CTS keeps a slow printer from
//! overflowing its buffer at 115200.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serialport::{FlowControl, SerialPort};

use super::{Flow, Transport, TransportError, Uri, remaining};

pub struct SerialTransport {
    path: String,
    baud: u32,
    flow: Flow,
    port: Option<Box<dyn SerialPort>>,
}

impl SerialTransport {
    pub fn open(path: &str, baud: u32, flow: Flow) -> Result<SerialTransport, TransportError> {
        let mut t = SerialTransport { path: path.to_string(), baud, flow, port: None };
        t.port = Some(t.dial()?);
        Ok(t)
    }

    fn dial(&self) -> Result<Box<dyn SerialPort>, TransportError> {
        let flow = match self.flow {
            Flow::None => FlowControl::None,
            Flow::RtsCts => FlowControl::Hardware,
            Flow::XonXoff => FlowControl::Software,
        };
        serialport::new(&self.path, self.baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow)
            .timeout(Duration::from_millis(100))
            .open()
            .map_err(|e| TransportError::Open { link: self.describe(), reason: e.to_string() })
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, TransportError> {
        let link = self.describe();
        self.port.as_mut().ok_or(TransportError::Disconnected { link, sent: 0, reason: "port closed".into() })
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), TransportError> {
        let link = self.describe();
        let port = self.port()?;
        let mut sent = 0;
        while sent < bytes.len() {
            let Some(left) = remaining(deadline) else {
                return Err(TransportError::Timeout { link, sent });
            };
            port.set_timeout(left).map_err(|e| TransportError::Io { link: link.clone(), sent, reason: e.to_string() })?;
            match port.write(&bytes[sent..]) {
                Ok(0) => return Err(TransportError::Disconnected { link, sent, reason: "port accepted no bytes".into() }),
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let err = TransportError::from_io(&link, sent, &e);
                    if err.is_disconnect() {
                        self.port = None;
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let link = self.describe();
        let port = self.port()?;
        port.set_timeout(timeout.max(Duration::from_millis(1)))
            .map_err(|e| TransportError::Io { link: link.clone(), sent: 0, reason: e.to_string() })?;
        match port.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Ok(0),
            Err(e) => Err(TransportError::from_io(&link, 0, &e)),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.port = None;
        self.port = Some(self.dial()?);
        Ok(())
    }

    fn describe(&self) -> String {
        Uri::Serial { path: self.path.clone(), baud: Some(self.baud), flow: Some(self.flow) }.to_string()
    }
}
