//! `gracewatch demo`: the bundled demo, one node per shutdown failure gracewatch exists for
//! (DESIGN.md), plus well-behaved nodes. Python nodes and the manifest are embedded in the
//! binary and written to a temporary directory, so the demo runs from anywhere.

pub(crate) mod files;
pub(crate) mod rust_nodes;
