//! Models of the slot and subscriber-head protocols.
