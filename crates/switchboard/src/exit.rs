//! The process exit codes of every command, defined once.
//!
//! Scripts and CI gates branch on these numbers, so they never change: 0 when the command did what
//! was asked, 1 when it ran and found a problem (a failure at run time, a failed preflight check,
//! scan findings, an unhealthy instance), 2 when it could not run as asked (a bad flag or an invalid
//! configuration; clap exits 2 on a bad flag too).

use std::fmt;
use std::process::ExitCode;

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// 0: done; no preflight check failed; the scan found nothing; the instance is healthy.
    Success = 0,
    /// 1: a failure at run time, a failed preflight check, scan findings, or an unhealthy instance.
    Failure = 1,
    /// 2: a usage or configuration error; nothing was checked or run.
    Usage = 2,
}

impl Exit {
    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Reports carry the number (`"exit_code": 1`), which is what scripts reading them compare.
impl serde::Serialize for Exit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_are_the_documented_ones() {
        assert_eq!([Exit::Success.code(), Exit::Failure.code(), Exit::Usage.code()], [0, 1, 2]);
        assert_eq!(serde_json::to_string(&Exit::Failure).unwrap(), "1");
        assert_eq!(Exit::Usage.to_string(), "2");
    }
}
