//! The pool's rules, step by step, on a fake clock. Every step goes
//! through [`harness::Harness::step`], which checks the pool's invariants.

mod adoption;
mod basics;
mod fair;
mod harness;
mod licenses;
mod prefetch;
mod walltime;
