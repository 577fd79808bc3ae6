//! The generator's own CPU time, so a comparison can tell how much of a shared core the
//! generator took. Read from `/proc/self/stat` (user + system time of every thread, live or
//! finished), which is robust to other processes' load, unlike wall-clock rates.

use std::time::Duration;

/// Linux reports these times in `USER_HZ` ticks, 100 per second on every architecture
/// userspace sees.
const TICKS_PER_SECOND: u64 = 100;

/// User + system CPU time of this process so far; `None` where `/proc` is unavailable.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

/// Fields 14 and 15 (`utime`, `stime`) of a `/proc/<pid>/stat` line. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat(stat: &str) -> Option<Duration> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SECOND,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_the_command_name() {
        let line = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 25 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(1750)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        assert!(process_cpu().is_some());
    }
}
