//! The client-protocol decoder: `ClientRequest::parse` must never panic, and
//! every request it accepts must survive `to_line` → `parse`.
//!
//! Exactly, except for non-integer numbers in the fields dfm passes through
//! untouched (`id`, a task's `extra`): serde_json's default float parser can
//! land one ULP off, so those may drift (see `dfm_fuzz`).
#![no_main]

use dfm_fuzz::lines_eq_up_to_float_ulps;
use dfm_wire::{ClientCall, ClientRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ClientRequest::parse(data) else {
        return;
    };
    let line = request.to_line();
    assert!(line.ends_with('\n'), "to_line must end with a newline");
    assert_eq!(
        line.matches('\n').count(),
        1,
        "to_line must produce exactly one line: {line:?}"
    );
    let again = match ClientRequest::parse(line.trim_end().as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("{line:?} does not parse again: {e:?}"),
    };
    if again == request {
        return;
    }
    // Only float drift is allowed: same call, same typed fields, and the
    // same JSON up to an ULP or so per float.
    assert_eq!(
        std::mem::discriminant(&again.call),
        std::mem::discriminant(&request.call)
    );
    if let (ClientCall::Submit(a), ClientCall::Submit(b)) = (&again.call, &request.call) {
        let (mut a, mut b) = (a.clone(), b.clone());
        a.extra.clear();
        b.extra.clear();
        assert_eq!(a, b, "a task's typed fields change in the round trip");
    }
    let line_again = again.to_line();
    assert!(
        lines_eq_up_to_float_ulps(&line, &line_again),
        "round trip changes more than float rounding:\n  {line:?}\n  {line_again:?}\n  {request:?}\n  {again:?}"
    );
});
