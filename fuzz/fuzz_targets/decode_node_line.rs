//! The node wire decoder must never panic, whatever a node sends, and whatever it accepts
//! must encode back to a line it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = gracewatch_node::wire::decode_node_line(data) {
        let line = gracewatch_node::wire::encode_line(&msg);
        let again = gracewatch_node::wire::decode_node_line(&line[..line.len() - 1]);
        assert_eq!(again.as_ref(), Ok(&msg));
    }
});
