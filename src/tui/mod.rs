//! The live cockpit.
