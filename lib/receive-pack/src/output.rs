//! Writing to the client: plain pkt-lines before capabilities are known,
//! then side-band 1 (report) and 3 (fatal error) once `side-band-64k` was
//! negotiated.

use std::io::{self, Write};

use gotd_wire::pkt;
use gotd_wire::sideband::{self, Band, SidebandWriter};

use crate::Error;

pub(crate) struct Output<'a> {
    w: &'a mut dyn Write,
    sideband: bool,
}

impl<'a> Output<'a> {
    pub(crate) fn new(w: &'a mut dyn Write) -> Self {
        Output { w, sideband: false }
    }

    pub(crate) fn set_sideband(&mut self, on: bool) {
        self.sideband = on;
    }

    /// The raw stream, for the advertisement.
    pub(crate) fn raw(&mut self) -> &mut dyn Write {
        &mut *self.w
    }

    /// Sends `msg` as a fatal error and returns the matching [`Error`].
    /// If the client cannot be reached the error is still `msg`: that is
    /// what the daemon logs and what gotsh would print.
    pub(crate) fn fatal(&mut self, msg: String) -> Error {
        let sent = if self.sideband {
            let mut data = msg.clone().into_bytes();
            data.truncate(sideband::MAX_DATA_64K);
            sideband::write_band(&mut self.w, Band::Error, &data)
        } else {
            pkt::write_err(&mut self.w, &msg)
        };
        let _ = sent.and_then(|()| self.w.flush());
        Error::Client(msg)
    }

    /// Sends an already pkt-line-framed report (ending in a flush), inside
    /// side-band 1 followed by a flush when side-band is on.
    pub(crate) fn report(&mut self, framed: &[u8]) -> io::Result<()> {
        if self.sideband {
            SidebandWriter::new(&mut *self.w, Band::Data).write_all(framed)?;
            pkt::write_flush(&mut self.w)?;
        } else {
            self.w.write_all(framed)?;
        }
        self.w.flush()
    }

    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
