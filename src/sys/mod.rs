//! The only module with `unsafe`: syscalls that std and rustix cannot make safe for us.
//! Every block says why it is sound.

#[cfg(feature = "supervisor")]
pub(crate) mod async_pidfd;
#[cfg(feature = "supervisor")]
pub(crate) mod child_setup;
#[cfg(feature = "supervisor")]
pub(crate) mod demo_fork;
pub(crate) mod signal_mask;
