//! `status_files` in the config: which runs get a status file on disk.
//! `GET /status` answers from the queues and the read model in every mode;
//! the files are a compatibility copy for readers of the original layout.

use serde::Deserialize;

/// Which runs have `<storage>/<user>/scripts/status/<id>.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFileMode {
    /// Queued and running runs, as the original does. A deep queue costs
    /// one small file (one inode, a 4 KiB block) per queued run.
    #[default]
    All,
    /// Running runs only: a queued run has no file until it starts.
    Running,
    /// None at all.
    None,
}

impl StatusFileMode {
    /// Whether queued runs have a file.
    pub fn queued(self) -> bool {
        self == StatusFileMode::All
    }

    /// Whether running runs have a file.
    pub fn running(self) -> bool {
        self != StatusFileMode::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        status_files: StatusFileMode,
    }

    #[test]
    fn the_three_modes_parse_and_anything_else_is_refused() {
        for (text, mode) in [
            ("all", StatusFileMode::All),
            ("running", StatusFileMode::Running),
            ("none", StatusFileMode::None),
        ] {
            let file: File = toml::from_str(&format!("status_files = \"{text}\""))
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(file.status_files, mode, "{text}");
        }
        let err = toml::from_str::<File>("status_files = \"queued\"")
            .err()
            .expect("an unknown mode is refused");
        assert!(err.to_string().contains("all"), "names the modes: {err}");
    }
}
