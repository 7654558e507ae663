//! upload-pack protocol v0/v1 on arbitrary client input against the fixture
//! repository: wants, haves, capabilities, shallow/filter lines, done.
//! Must never panic; any error goes to the client as text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let repo = gotd_fuzz::fixture();
    // The first byte picks v0 or v1 (the same state machine, v1 adds a
    // `version 1` line).
    let (proto, input) = match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => (gotd_wire::Protocol::V1, rest),
        Some((_, rest)) => (gotd_wire::Protocol::V0, rest),
        None => (gotd_wire::Protocol::V0, data),
    };
    let mut inp = input;
    let mut out = Vec::new();
    if let Err(e) =
        gotd_upload_pack::serve(repo, &mut inp, &mut out, &gotd_fuzz::upload_options(proto))
    {
        assert!(!e.to_string().is_empty());
    }
});
