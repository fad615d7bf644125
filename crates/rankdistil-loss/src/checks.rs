//! The rules loss settings share, worded as config errors name them.

/// `Ok` for a finite number above 0.
pub(crate) fn positive(key: &str, value: f64) -> Result<(), String> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(format!("{key} = {value}, expected a finite number > 0"))
    }
}

/// `Ok` for a count of at least 1.
pub(crate) fn at_least_one(key: &str, value: usize) -> Result<(), String> {
    if value >= 1 {
        Ok(())
    } else {
        Err(format!("{key} = 0, expected {key} >= 1"))
    }
}

/// Panics with the broken rule: `init` on a config that failed its check.
pub(crate) fn or_panic(checked: Result<(), String>) {
    if let Err(e) = checked {
        panic!("{e}");
    }
}
