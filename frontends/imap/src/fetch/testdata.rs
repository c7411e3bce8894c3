//! Sample messages shared by the FETCH and SEARCH tests.

/// A one-part text message.
pub(crate) const SIMPLE: &str = "From: \"Ana B\" <ana@example.com>\r\n\
To: bo@example.org\r\n\
Subject: Lunch plans\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
Message-ID: <1@example.com>\r\n\
\r\n\
line1\r\n\
line2\r\n";

/// A multipart/alternative with an encoded subject and a quoted-printable part.
pub(crate) const ALTERNATIVE: &str = "From: =?utf-8?q?J=C3=B6rg_M?= <jm@example.de>\r\n\
To: Friends: ana@example.com, \"Cy\" <cy@example.net>;\r\n\
Cc: dee@example.com\r\n\
Subject: =?utf-8?q?Caf=C3=A9?= menu\r\n\
Date: Tue, 1 Mar 2022 23:30:00 -0500\r\n\
X-Priority: 1\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9!\r\n\
\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Cr&egrave;me</p>\r\n\
\r\n\
--alt--\r\n";

/// A multipart/mixed with a header-less text part, a PDF attachment with
/// disposition, language and location, and an embedded multipart message.
pub(crate) const MIXED: &str = "From: Ana <ana@example.com>\r\n\
To: bo@example.org\r\n\
Bcc: secret@example.org\r\n\
Subject: report\r\n\
Content-Type: multipart/mixed; boundary=\"out\"\r\n\
\r\n\
preamble\r\n\
--out\r\n\
\r\n\
see it\r\n\
\r\n\
--out\r\n\
Content-Type: application/pdf; name=\"r.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <att1@x>\r\n\
Content-Description: The report\r\n\
Content-Disposition: attachment; filename=\"r.pdf\"\r\n\
Content-Language: en, de\r\n\
Content-Location: http://x/r.pdf\r\n\
\r\n\
SGVsbG8hIQ==\r\n\
--out\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: in@example.org\r\n\
Subject: inner\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
Content-Type: multipart/mixed; boundary=in\r\n\
\r\n\
--in\r\n\
\r\n\
inner\r\n\
--in\r\n\
Content-Type: image/gif\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: inline\r\n\
\r\n\
R0lGOA==\r\n\
--in--\r\n\
--out--\r\n\
epilogue\r\n";

/// A throw-away node with one account whose INBOX holds test messages.
pub(crate) struct TestMailbox {
    /// The node, for damaging stored bodies.
    pub(crate) node: std::sync::Arc<kotak_engine::Node>,
    /// The account.
    pub(crate) account: kotak_engine::Account,
    /// The INBOX's messages in UID order.
    pub(crate) messages: Vec<kotak_engine::MessageMeta>,
    /// Declared last: the directory goes away after the node has closed.
    _dir: tempfile::TempDir,
}

/// Appends `(raw, flags, internal date)` messages to a fresh account's INBOX.
pub(crate) async fn mailbox(messages: &[(&str, kotak_engine::Flags, i64)]) -> TestMailbox {
    use kotak_engine::account::INBOX_ID;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = kotak_engine::NodeConfig::new(dir.path());
    config.shards = Some(1);
    let node = kotak_engine::Node::open(config).expect("open node");
    let rec = kotak_directory::Account::placed(1, "t@example.com", node.name());
    let account = node.open_account(&rec).await.expect("account handle");
    for (raw, flags, date) in messages {
        account.append(INBOX_ID, raw.as_bytes(), flags.clone(), Some(*date)).await.expect("append");
    }
    let messages = account.messages(INBOX_ID).expect("list messages");
    TestMailbox { node, account, messages, _dir: dir }
}

/// Flags from system bits and keywords.
pub(crate) fn flags(system: u8, keywords: &[&str]) -> kotak_engine::Flags {
    let mut f = kotak_engine::Flags { system, keywords: Vec::new() };
    for k in keywords {
        f.add_keyword(k);
    }
    f
}

impl TestMailbox {
    /// Overwrites the stored body of message `index` so that reading it fails.
    pub(crate) fn damage(&self, index: usize) {
        self.node.damage_blob_for_test(0, self.messages[index].blob, b"not a stored body").expect("damage blob");
    }
}
