//! Every command is routed in one place (`Session::execute`), whichever
//! parser read it: what each state accepts, and that the commands of any
//! state (NOOP, ID) report the selected mailbox's updates once logged in.

mod common;

use common::{has, message, TestServer, PASS, USER};

#[tokio::test]
async fn commands_are_answered_in_the_states_they_belong_to() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    // Any state: NOOP, ID, CAPABILITY.
    assert_eq!(c.ok("n1", "NOOP").await, Vec::<String>::new());
    assert!(c.ok("i1", "ID NIL").await[0].starts_with("* ID (\"name\" \"Kotak\""));
    assert!(c.ok("c1", "CAPABILITY").await[0].starts_with("* CAPABILITY IMAP4rev1"));
    // Not before login: commands of either parser.
    for (tag, command) in [
        ("w1", "SELECT INBOX"),
        ("w2", "LIST \"\" *"),
        ("w3", "DELETE Foo"),
        ("w4", "IDLE"),
        ("w5", "ENABLE CONDSTORE"),
        ("w6", "NAMESPACE"),
        ("w7", "FETCH 1 FLAGS"),
        ("w8", "COMPRESS DEFLATE"),
    ] {
        assert_eq!(c.tagged(tag, command).await, format!("{tag} BAD Command not valid in this state"), "{command}");
    }
    c.ok("l", &format!("LOGIN {USER} {PASS}")).await;
    // Logged in: not the login commands, nor those of the selected state.
    for (tag, command) in [
        ("x1", format!("LOGIN {USER} {PASS}")),
        ("x2", "STARTTLS".to_string()),
        ("x3", "FETCH 1 FLAGS".to_string()),
        ("x4", "CHECK".to_string()),
        ("x5", "EXPUNGE".to_string()),
        ("x6", "UID EXPUNGE 1".to_string()),
        ("x7", "CLOSE".to_string()),
        ("x8", "UNSELECT".to_string()),
    ] {
        assert_eq!(c.tagged(tag, &command).await, format!("{tag} BAD Command not valid in this state"), "{command}");
    }
    assert_eq!(c.ok("n2", "NOOP").await, Vec::<String>::new());
    assert!(c.ok("i2", "ID (\"name\" \"test\")").await[0].starts_with("* ID ("));
    assert_eq!(c.ok("e", "ENABLE CONDSTORE").await, vec!["* ENABLED CONDSTORE"]);
    c.ok("s", "SELECT INBOX").await;
    assert_eq!(c.tagged("x9", "ENABLE QRESYNC").await, "x9 BAD Command not valid in this state");
    assert_eq!(c.ok("k", "CHECK").await, Vec::<String>::new());

    // In the selected state NOOP and ID report what another session did.
    let mut other = server.login().await;
    assert!(other.append("a1", "INBOX", "()", &message("one", "1")).await.starts_with("a1 OK"));
    assert!(has(&c.ok("n3", "NOOP").await, "* 1 EXISTS"));
    assert!(other.append("a2", "INBOX", "()", &message("two", "2")).await.starts_with("a2 OK"));
    let lines = c.ok("i3", "ID NIL").await;
    assert!(lines[0].starts_with("* ID (") && has(&lines, "* 2 EXISTS"), "{lines:?}");
    c.ok("u", "UNSELECT").await;
    let bye = c.command("o", "LOGOUT").await;
    assert_eq!(bye, vec!["* BYE Kotak IMAP server logging out", "o OK LOGOUT completed"]);
    server.stop().await;
}
