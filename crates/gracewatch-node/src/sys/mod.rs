//! The only module of this crate with `unsafe`: the syscalls std and rustix cannot make safe
//! for us. Every block says why it is sound.

pub mod atfork;
