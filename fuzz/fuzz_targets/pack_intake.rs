//! Pack intake: a valid command list followed by arbitrary pack bytes.
//!
//! Input layout: one selector byte, 20 bytes of the new id, then the pack.
//! The selector picks the ref update (create a branch, fast-forward `main`
//! (protected: creation and fast-forward allowed), create a tag, create a
//! branch in a protected namespace) and the capabilities (side-band-64k,
//! atomic). Must never panic; a refused pack leaves no file behind.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

static SCRATCH: Mutex<Option<gotd_fuzz::Scratch>> = Mutex::new(None);

fn pkt(s: &str) -> Vec<u8> {
    let mut v = format!("{:04x}", s.len() + 4).into_bytes();
    v.extend_from_slice(s.as_bytes());
    v
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 21 {
        return;
    }
    let sel = data[0];
    let new: String = data[1..21].iter().map(|b| format!("{b:02x}")).collect();
    let pack = &data[21..];
    let zero = "0".repeat(40);
    let main = gotd_fuzz::fixture_main();
    let (old, name) = match sel & 3 {
        0 => (zero.as_str(), "refs/heads/fuzz"),
        1 => (main, "refs/heads/main"),
        2 => (zero.as_str(), "refs/tags/fuzz"),
        _ => (zero.as_str(), "refs/heads/prot/fuzz"),
    };
    let mut caps = String::from("report-status ofs-delta");
    if sel & 4 != 0 {
        caps.push_str(" side-band-64k");
    }
    if sel & 8 != 0 {
        caps.push_str(" atomic");
    }
    let mut input = pkt(&format!("{old} {new} {name}\0{caps}\n"));
    input.extend_from_slice(b"0000");
    input.extend_from_slice(pack);

    let mut guard = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = guard.get_or_insert_with(gotd_fuzz::Scratch::new);
    gotd_fuzz::receive_once(scratch, &input);
});
