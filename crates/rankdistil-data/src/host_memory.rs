//! What the machine can hold, so a size it cannot is refused before any work starts rather
//! than aborting in an allocation.

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`); `None` where it
/// cannot be read.
pub fn total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `Ok` when `bytes` fit in the machine's memory; otherwise an error naming `what`, the memory
/// it would need, and what the machine has.
pub fn check(what: &str, bytes: u128) -> Result<(), String> {
    match total() {
        Some(have) if bytes > u128::from(have) => Err(format!(
            "{what} needs {}, more than the {} of memory this machine has",
            size(bytes),
            size(u128::from(have))
        )),
        _ => Ok(()),
    }
}

/// Bytes in the largest binary unit that keeps the number readable.
pub fn size(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(16 << 30), "16.0 GiB");
        assert_eq!(size(24 * (1u128 << 40)), "24.0 TiB");
    }

    #[test]
    fn a_size_past_the_machine_is_refused_by_name() {
        let have = total().expect("/proc/meminfo on Linux");
        assert!(check("a small buffer", 1 << 20).is_ok());
        let err = check("[model] hidden", u128::from(have) * 2).unwrap_err();
        assert!(err.starts_with("[model] hidden needs "), "{err}");
        assert!(err.ends_with("of memory this machine has"), "{err}");
    }
}
