//! pkt-line reader (v0/v1 and v2 modes): never panics, and every data
//! packet it returns re-encodes to exactly the bytes it consumed.
#![no_main]

use gotd_wire::pkt::{self, Packet, PktReader};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8], v2: bool) {
    let mut input = data;
    let mut r = if v2 {
        PktReader::new_v2(&mut input)
    } else {
        PktReader::new(&mut input)
    };
    let mut reencoded = Vec::new();
    loop {
        match r.read_packet() {
            Ok(None) => break,
            Ok(Some(Packet::Data(d))) => {
                assert!(
                    d.len() + 4 <= 0xffff,
                    "packet longer than its header allows"
                );
                if d.len() <= pkt::MAX_PAYLOAD {
                    pkt::write_data(&mut reencoded, &d).expect("re-encoding");
                } else {
                    reencoded.extend_from_slice(format!("{:04x}", d.len() + 4).as_bytes());
                    reencoded.extend_from_slice(&d);
                }
            }
            Ok(Some(Packet::Flush)) => reencoded.extend_from_slice(b"0000"),
            Ok(Some(Packet::Delim)) => {
                assert!(v2, "delimiter outside v2");
                reencoded.extend_from_slice(b"0001")
            }
            Ok(Some(Packet::ResponseEnd)) => {
                assert!(v2, "response-end outside v2");
                reencoded.extend_from_slice(b"0002")
            }
            Err(e) => {
                // Client-visible texts are never empty.
                assert!(!e.to_string().is_empty());
                return;
            }
        }
    }
    assert!(
        data.len() >= reencoded.len() && data[..reencoded.len()].eq_ignore_ascii_case(&reencoded),
        "packets do not re-encode to their input"
    );
}

fuzz_target!(|data: &[u8]| {
    check(data, false);
    check(data, true);
});
