//! upload-pack protocol v2 (`ls-refs`, `fetch`) on arbitrary client input
//! against the fixture repository. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let repo = gotd_fuzz::fixture();
    let mut inp = data;
    let mut out = Vec::new();
    let opts = gotd_fuzz::upload_options(gotd_wire::Protocol::V2);
    if let Err(e) = gotd_upload_pack::serve(repo, &mut inp, &mut out, &opts) {
        assert!(!e.to_string().is_empty());
    }
});
