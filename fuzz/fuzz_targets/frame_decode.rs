//! Every byte string a client can send must decode to a frame or an error,
//! never a panic, a hang or unbounded recursion.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match rf_sync::decode_client_frame(data, 1 << 20) {
        Ok(frame) => {
            // A frame that decodes is internally consistent.
            assert!(frame.sender_id.is_some() || frame.kind == rf_sync::MessageKind::Error);
        }
        Err(err) => {
            // Every refusal has a reason that can be logged and sent.
            assert!(!err.to_string().is_empty());
        }
    }
});
