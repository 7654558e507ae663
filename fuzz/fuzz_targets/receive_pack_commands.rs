//! receive-pack on arbitrary client input: the command list, capabilities,
//! push options and whatever follows as the pack, against a scratch copy of
//! the fixture. Must never panic, and a refused push must leave no file
//! behind.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

static SCRATCH: Mutex<Option<gotd_fuzz::Scratch>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut guard = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = guard.get_or_insert_with(gotd_fuzz::Scratch::new);
    gotd_fuzz::receive_once(scratch, data);
});
