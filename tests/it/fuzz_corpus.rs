//! The wire decoder's fuzz corpus (`fuzz/corpus/decode_node_line`, grown by
//! `cargo fuzz run decode_node_line`) replayed as a normal test: no input may panic, and every
//! accepted message must survive an encode/decode round trip.

use std::path::Path;

#[test]
fn every_corpus_input_decodes_without_panic_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode_node_line");
    let mut count = 0;
    let mut accepted = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("corpus file");
        count += 1;
        if let Ok(msg) = gracewatch::wire::decode_node_line(&data) {
            accepted += 1;
            let line = gracewatch::wire::encode_line(&msg);
            assert_eq!(gracewatch::wire::decode_node_line(&line[..line.len() - 1]), Ok(msg));
        }
    }
    assert!(count >= 16, "the corpus is there ({count} inputs)");
    assert!(accepted >= 9, "the valid seeds decode ({accepted})");
}
