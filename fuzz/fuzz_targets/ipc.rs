//! IPC frame decoder: arbitrary bytes, split at an arbitrary point, decoded
//! as every message type that crosses a process boundary (gotsh/gotctl →
//! gotd, gotd → gotsh/gotctl, parent ⇄ repo child). Must never panic, never
//! accept an oversized frame, and what decodes must re-encode to the same
//! frame.
#![no_main]

use gotd::msg::{ToChild, ToParent};
use gotd_wire::ipc::{self, FrameBuf, IpcError};
use gotd_wire::request::{Reply, Request};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn decode_all<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    data: &[u8],
    split: usize,
) {
    let mut fb = FrameBuf::new();
    let split = split.min(data.len());
    fb.push(&data[..split], Vec::new());
    let mut rest = Some(&data[split..]);
    loop {
        match fb.next_frame::<T>() {
            Ok(Some(msg)) => {
                let frame = ipc::encode(&msg).expect("a decoded message re-encodes");
                // postcard's encoding is canonical for our types except for
                // trailing bytes, which the decoder ignores: the re-encoded
                // body is a prefix of what was decoded.
                assert!(frame.len() <= 4 + ipc::MAX_FRAME);
                let again: T = {
                    let mut fb2 = FrameBuf::new();
                    fb2.push(&frame, Vec::new());
                    fb2.next_frame().expect("round trip").expect("whole frame")
                };
                assert_eq!(again, msg);
            }
            Ok(None) => match rest.take() {
                Some(r) => fb.push(r, Vec::new()),
                None => break,
            },
            Err(IpcError::TooLarge(n)) => {
                assert!(n > ipc::MAX_FRAME);
                break;
            }
            Err(IpcError::Decode(_)) => continue,
            Err(e) => panic!("unexpected error without a socket: {e}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (split, body) = match data.split_first() {
        Some((b, rest)) => (*b as usize, rest),
        None => return,
    };
    decode_all::<Request>(body, split);
    decode_all::<Reply>(body, split);
    decode_all::<ToChild>(body, split);
    decode_all::<ToParent>(body, split);
});
