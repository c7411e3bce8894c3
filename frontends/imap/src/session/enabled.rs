//! What a client switched on for its session: with ENABLE (RFC 5161), or,
//! for CONDSTORE, with any CONDSTORE-enabling command (RFC 7162 3.1).
//! Nothing is ever switched off again.

use super::names::Naming;

/// The behaviours a session has enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// CONDSTORE (RFC 7162): FETCH responses about flag changes carry
    /// MODSEQ and UID.
    pub condstore: bool,
    /// QRESYNC (RFC 7162): VANISHED instead of EXPUNGE; implies CONDSTORE.
    pub qresync: bool,
    /// IMAP4rev2 (RFC 9051): no `\Recent`, ESEARCH answers, UTF-8 names.
    pub rev2: bool,
}

impl Enabled {
    /// How mailbox names are spelled on the wire: UTF-8 for IMAP4rev2,
    /// modified UTF-7 otherwise.
    pub fn naming(&self) -> Naming {
        if self.rev2 {
            Naming::Utf8
        } else {
            Naming::ModifiedUtf7
        }
    }

    /// Whether `\Recent` and RECENT responses are shown (only to
    /// IMAP4rev1 clients).
    pub fn recent(&self) -> bool {
        !self.rev2
    }

    /// Whether an unsolicited FETCH response must carry the UID: RFC 7162
    /// 3.2.4 for CONDSTORE-aware clients, RFC 9051 for all.
    pub fn uid_in_updates(&self) -> bool {
        self.condstore || self.rev2
    }

    /// Enables the extension ENABLE names (any case) and returns its
    /// canonical name for the ENABLED response, or `None` for one that
    /// cannot be enabled (ignored, as RFC 5161 requires). Enabling QRESYNC
    /// enables CONDSTORE too.
    pub fn enable(&mut self, name: &str) -> Option<&'static str> {
        match name.to_ascii_uppercase().as_str() {
            "CONDSTORE" => {
                self.condstore = true;
                Some("CONDSTORE")
            }
            "QRESYNC" => {
                self.condstore = true;
                self.qresync = true;
                Some("QRESYNC")
            }
            "IMAP4REV2" => {
                self.rev2 = true;
                Some("IMAP4rev2")
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabling() {
        let mut e = Enabled::default();
        assert!(e.recent() && e.naming() == Naming::ModifiedUtf7 && !e.uid_in_updates());
        assert_eq!(e.enable("qresync"), Some("QRESYNC"));
        assert!(e.condstore && e.qresync && e.uid_in_updates());
        assert_eq!(e.enable("CONDSTORE"), Some("CONDSTORE"));
        assert_eq!(e.enable("UTF8=ACCEPT"), None);
        assert_eq!(e.enable("imap4rev2"), Some("IMAP4rev2"));
        assert!(!e.recent() && e.naming() == Naming::Utf8);
    }
}
