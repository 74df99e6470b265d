//! `pthread_atfork` for the node client's fork detection (filled in with the client library).
