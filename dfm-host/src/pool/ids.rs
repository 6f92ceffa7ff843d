//! The pool's ids.

/// A client connection, as the daemon numbers them.
pub type ClientId = u64;
/// A worker slot: a job launched for the pool, and its worker once it
/// registers.
pub type SlotId = u64;
/// A task in the pool (not the id its client gave it). The daemon keeps
/// its own record of a task under this id too: unlike the client's id,
/// it is a number, unique in the pool, and not chosen by a client.
pub type TaskId = u64;
/// A resource class, as an index into the pool's `classes`.
pub(super) type ClassId = usize;
