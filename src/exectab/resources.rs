//! The per-script process options: keep the children a run leaves behind
//! (`-k`), and the limits enforced through the run's cgroup: memory
//! (`-M=SIZE`), CPU weight (`-W=N`) and process count (`-P=N`).

use serde::{Deserialize, Serialize};

/// How a script's processes are bounded and what happens to its leftovers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// `-k`: processes left when the script exits keep running.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_children: bool,
    /// `-M`: memory limit in bytes (cgroup `memory.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<u64>,
    /// `-W`: CPU weight, 1..=10000 (cgroup `cpu.weight`, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_weight: Option<u32>,
    /// `-P`: most processes at once (cgroup `pids.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_procs: Option<u32>,
}

impl Resources {
    /// True when no option is set (nothing to record).
    pub fn is_default(&self) -> bool {
        *self == Resources::default()
    }

    /// True when a limit needs a cgroup controller.
    pub fn has_limits(&self) -> bool {
        self.memory_max.is_some() || self.cpu_weight.is_some() || self.max_procs.is_some()
    }
}

/// Parses `512M`, `2G`, `64k` or a plain number of bytes (powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    if digits.is_empty() {
        return None;
    }
    let shift = match unit {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        _ => return None,
    };
    let value: u64 = digits.parse().ok()?;
    value.checked_mul(1u64 << shift).filter(|bytes| *bytes > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_systemd_and_docker() {
        for (text, want) in [
            ("4096", Some(4096)),
            ("64k", Some(64 << 10)),
            ("512M", Some(512 << 20)),
            ("2G", Some(2 << 30)),
            ("0", None),
            ("", None),
            ("M", None),
            ("1.5G", None),
            ("12X", None),
        ] {
            assert_eq!(parse_size(text), want, "{text:?}");
        }
    }
}
