//! The units of [`crate::Resources`], parsed once for every plugin.

/// Megabytes (rounded up) in a memory size: `512M`, `32G`, `1.5G`, `100K`,
/// `1T`, with or without a trailing `B`, any case. A plain number is
/// megabytes, as in the original's configuration.
pub fn memory_mb(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let upper = upper.strip_suffix('B').unwrap_or(&upper);
    let (number, per_unit) = match upper.char_indices().last() {
        Some((at, 'K')) => (&upper[..at], 1.0 / 1024.0),
        Some((at, 'M')) => (&upper[..at], 1.0),
        Some((at, 'G')) => (&upper[..at], 1024.0),
        Some((at, 'T')) => (&upper[..at], 1024.0 * 1024.0),
        _ => (upper, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok((value * per_unit).ceil() as u64),
        _ => Err(format!(
            "memory '{trimmed}' is not a size such as 512M, 4G or 1024 (megabytes)"
        )),
    }
}

/// Minutes (rounded up) in a run limit: `M`, `H:MM` or `H:MM:SS`, the way
/// LSF's `-W` reads it (so the original's `1:00` is one hour).
pub fn walltime_minutes(text: &str) -> Result<u64, String> {
    Ok(walltime_seconds(text)?.div_ceil(60))
}

/// Seconds in a run limit written as [`walltime_minutes`] reads it.
pub fn walltime_seconds(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let parts: Option<Vec<u64>> = trimmed
        .split(':')
        .map(|part| part.trim().parse::<u64>().ok())
        .collect();
    let seconds = match parts.as_deref() {
        Some([m]) => m.checked_mul(60),
        Some([h, m]) => h.checked_mul(3600).and_then(|h| h.checked_add(m * 60)),
        Some([h, m, s]) => h.checked_mul(3600).and_then(|h| h.checked_add(m * 60 + s)),
        _ => None,
    };
    match seconds {
        Some(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(format!(
            "walltime '{trimmed}' is not a run limit such as 30 (minutes), 1:00 or 2:30:00"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(memory_mb("512M"), Ok(512));
        assert_eq!(memory_mb("32G"), Ok(32 * 1024));
        assert_eq!(memory_mb("1024"), Ok(1024));
        assert_eq!(memory_mb("1.5gb"), Ok(1536));
        assert_eq!(memory_mb("100K"), Ok(1));
        assert_eq!(memory_mb("2T"), Ok(2 * 1024 * 1024));
        assert!(memory_mb("lots").unwrap_err().contains("'lots'"));
        assert!(memory_mb("0").is_err());
    }

    #[test]
    fn run_limits() {
        assert_eq!(walltime_minutes("30"), Ok(30));
        assert_eq!(walltime_minutes("1:00"), Ok(60));
        assert_eq!(walltime_minutes("2:30:01"), Ok(151));
        assert_eq!(walltime_seconds("2:30:01"), Ok(9001));
        assert_eq!(walltime_seconds("45"), Ok(2700));
        assert_eq!(walltime_seconds("0:00:30"), Ok(30));
        assert!(walltime_minutes("1:x").is_err());
        assert!(walltime_minutes("0").is_err());
    }
}
