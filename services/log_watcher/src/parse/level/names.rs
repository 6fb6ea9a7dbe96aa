//! The normalised [`Level`]: its names and aliases ([`Level::parse`], allocation-free through
//! packed names), its canonical spellings, serde, and [`LevelCounts`], the per-level counts
//! indexed by it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Lines per level, indexed by `Level as usize`.
pub type LevelCounts = [u64; 6];

/// A name of at most 15 bytes, ASCII-lower-cased, packed with its length into one integer:
/// two names are equal ignoring ASCII case exactly when their packs are equal. The caller
/// checks the length.
#[inline]
pub(super) const fn pack_lowercase(name: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    bytes[15] = name.len() as u8;
    let mut i = 0;
    while i < name.len() {
        bytes[i] = name[i].to_ascii_lowercase();
        i += 1;
    }
    u128::from_le_bytes(bytes)
}

/// Declares `const NAME: u128 = pack_lowercase(b"name");` for each pair, for use as match
/// patterns.
macro_rules! packed_names {
    ($($name:ident = $text:literal),+ $(,)?) => {
        $(const $name: u128 = pack_lowercase($text);)+
    };
}

pub(super) use packed_names;

/// A normalised log level, ordered by severity (`Trace < … < Critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Finest detail (`trace`, `finest`, `finer`).
    Trace,
    /// Debugging output (`debug`, `dbg`, `verbose`, `fine`, Postgres `debug1`..`debug5`).
    Debug,
    /// Normal operation (`info`, `information`, `notice`).
    Info,
    /// Something unexpected that did not fail (`warn`, `warning`).
    Warning,
    /// A failure (`error`, `err`, `severe`).
    Error,
    /// A failure that stops the program or needs attention now (`critical`, `crit`,
    /// `fatal`, `panic`, `emerg`, `alert`).
    Critical,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    /// Parses a level name or a common alias, case-insensitively; `None` when `name` is
    /// not one. See the variants for the aliases.
    pub fn parse(name: &str) -> Option<Level> {
        Level::parse_bytes(name.as_bytes())
    }

    /// [`Level::parse`] on bytes, without allocating. The name is packed into one integer
    /// ([`pack_lowercase`]) and compared with the packed aliases: a few integer comparisons
    /// instead of a string comparison per alias (this runs for nearly every log line).
    #[inline]
    pub(super) fn parse_bytes(name: &[u8]) -> Option<Level> {
        const LONGEST: usize = 13; // "informational"
        if name.is_empty() || name.len() > LONGEST {
            return None;
        }
        packed_names! {
            TRACE = b"trace", TRC = b"trc", FINEST = b"finest", FINER = b"finer",
            DEBUG = b"debug", DBG = b"dbg", VERBOSE = b"verbose", FINE = b"fine",
            DEBUG1 = b"debug1", DEBUG2 = b"debug2", DEBUG3 = b"debug3", DEBUG4 = b"debug4",
            DEBUG5 = b"debug5",
            INFO = b"info", INF = b"inf", INFORMATION = b"information",
            INFORMATIONAL = b"informational", NOTICE = b"notice",
            WARN = b"warn", WARNING = b"warning", WRN = b"wrn",
            ERROR = b"error", ERR = b"err", SEVERE = b"severe",
            CRITICAL = b"critical", CRIT = b"crit", FATAL = b"fatal", FTL = b"ftl",
            PANIC = b"panic", DPANIC = b"dpanic", EMERG = b"emerg", EMERGENCY = b"emergency",
            ALERT = b"alert",
        }
        Some(match pack_lowercase(name) {
            TRACE | TRC | FINEST | FINER => Level::Trace,
            DEBUG | DBG | VERBOSE | FINE | DEBUG1 | DEBUG2 | DEBUG3 | DEBUG4 | DEBUG5 => {
                Level::Debug
            }
            INFO | INF | INFORMATION | INFORMATIONAL | NOTICE => Level::Info,
            WARN | WARNING | WRN => Level::Warning,
            ERROR | ERR | SEVERE => Level::Error,
            CRITICAL | CRIT | FATAL | FTL | PANIC | DPANIC | EMERG | EMERGENCY | ALERT => {
                Level::Critical
            }
            _ => return None,
        })
    }

    /// The canonical lowercase name: `trace`, `debug`, `info`, `warning`, `error`,
    /// `critical` (as used in JSON and config).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }

    /// The uppercase name printed in event lines (`[..][api][ERROR] ...`): `TRACE`,
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Level from a numeric JSON level: pino/bunyan (>= 10) or syslog severity (0-7).
    #[inline]
    pub(super) fn from_number(n: u64) -> Option<Level> {
        Some(match n {
            0..=2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warning,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            8 | 9 => return None,
            10..=19 => Level::Trace,
            20..=29 => Level::Debug,
            30..=39 => Level::Info,
            40..=49 => Level::Warning,
            50..=59 => Level::Error,
            _ => Level::Critical,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a string that names no level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level {0:?} (expected one of trace, debug, info, warning, error, critical)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::parse(s).ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Deserializes from a level name, accepting the same aliases as [`Level::parse`]
/// (so a config may say `"warn"`).
impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a log level (trace, debug, info, warning, error, critical)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Level, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::*;

    #[test]
    fn levels_are_ordered_by_severity() {
        assert!(Trace < Debug && Debug < Info && Info < Warning);
        assert!(Warning < Error && Error < Critical);
        assert_eq!(Level::ALL.iter().max(), Some(&Critical));
    }

    #[test]
    fn parse_accepts_aliases_in_any_case() {
        for (name, level) in [
            ("warn", Warning),
            ("WARNING", Warning),
            ("Err", Error),
            ("error", Error),
            ("fatal", Critical),
            ("CRIT", Critical),
            ("critical", Critical),
            ("emerg", Critical),
            ("alert", Critical),
            ("panic", Critical),
            ("notice", Info),
            ("verbose", Debug),
            ("trace", Trace),
            ("information", Info),
        ] {
            assert_eq!(Level::parse(name), Some(level), "{name}");
        }
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::parse(""), None);
        assert_eq!(Level::parse("informationally"), None);
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(Warning.as_str(), "warning");
        assert_eq!(Warning.label(), "WARNING");
        assert_eq!(Critical.label(), "CRITICAL");
        assert_eq!(Error.to_string(), "error");
        assert_eq!("warn".parse::<Level>(), Ok(Warning));
        assert!("loud".parse::<Level>().is_err());
    }

    #[test]
    fn serde_uses_lowercase_names_and_accepts_aliases() {
        assert_eq!(serde_json::to_string(&Warning).unwrap(), "\"warning\"");
        let v: Vec<Level> = serde_json::from_str(r#"["error","warn","CRITICAL"]"#).unwrap();
        assert_eq!(v, [Error, Warning, Critical]);
        assert!(serde_json::from_str::<Level>("\"loud\"").is_err());
    }

    #[test]
    fn packed_names_are_equal_exactly_when_the_names_are_equal_ignoring_case() {
        assert_eq!(pack_lowercase(b"INFO"), pack_lowercase(b"info"));
        assert_eq!(pack_lowercase(b"Log.Level"), pack_lowercase(b"log.level"));
        assert_ne!(pack_lowercase(b"info"), pack_lowercase(b"inf"));
        assert_ne!(pack_lowercase(b"info"), pack_lowercase(b"info\0"));
        assert_ne!(pack_lowercase(b"@l"), pack_lowercase(b"`l"));
        assert_eq!(Level::parse("INFORMATIONAL"), Some(Info));
        assert_eq!(Level::parse("Debug3"), Some(Debug));
        assert_eq!(Level::parse("debug6"), None);
        assert_eq!(Level::parse("inf\0"), None);
    }
}
