//! Helpers shared by the fuzz targets.

use serde_json::Value;

/// JSON equality where two non-integer numbers count as equal when they are
/// within a few units in the last place.
///
/// serde_json (without its `float_roundtrip` feature, which dfm does not
/// enable) parses some decimal floats to a neighbour of the nearest double,
/// e.g. `4444444444444444.5` reads back as `4444444444444445.0`. A float in a
/// task's pass-through fields (`extra`, `id`) can therefore drift by an ULP
/// per encode/decode; everything else must round-trip exactly.
pub fn json_eq_up_to_float_ulps(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            if x.is_f64() || y.is_f64() {
                let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) else {
                    return false;
                };
                // Both finite (JSON has no NaN or infinities).
                return (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs());
            }
            false
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|(x, y)| json_eq_up_to_float_ulps(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| json_eq_up_to_float_ulps(x, y)))
        }
        _ => a == b,
    }
}

/// Both lines as JSON, compared with [`json_eq_up_to_float_ulps`].
pub fn lines_eq_up_to_float_ulps(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => json_eq_up_to_float_ulps(&a, &b),
        _ => false,
    }
}
