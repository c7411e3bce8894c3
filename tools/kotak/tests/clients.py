"""Real mail clients for the Rust end-to-end tests: Python's smtplib
(LMTP), imaplib and poplib, one action per run, printing one JSON line."""

import imaplib
import json
import poplib
import smtplib
import sys


def deliver(port, sender, recipients, host="127.0.0.1"):
    """LMTP answers DATA once per accepted recipient (RFC 2033 4.2), which
    smtplib's sendmail does not read, so the steps are taken one by one.
    Returns the refused recipients with their replies."""
    message = sys.stdin.buffer.read()
    refused = {}
    with smtplib.LMTP(host, int(port), timeout=30) as c:
        c.ehlo()
        code, msg = c.mail(sender)
        assert code == 250, (code, msg)
        accepted = []
        for r in recipients:
            code, msg = c.rcpt(r)
            if code == 250:
                accepted.append(r)
            else:
                refused[r] = (code, msg)
        if accepted:
            code, msg = c.data(message)
            for i, r in enumerate(accepted):
                if i > 0:
                    code, msg = c.getreply()
                if code != 250:
                    refused[r] = (code, msg)
        else:
            c.rset()
    return {r: [code, msg.decode()] for r, (code, msg) in refused.items()}


def imap_count(port, user, password):
    c = imaplib.IMAP4("127.0.0.1", int(port))
    try:
        c.login(user, password)
    except imaplib.IMAP4.error as e:
        return {"error": str(e)}
    typ, data = c.select("INBOX", readonly=True)
    c.logout()
    return {"messages": int(data[0])}


def pop3_count(port, user, password):
    c = poplib.POP3("127.0.0.1", int(port), timeout=30)
    try:
        c.user(user)
        c.pass_(password)
    except poplib.error_proto as e:
        return {"error": e.args[0].decode()}
    count, _ = c.stat()
    c.quit()
    return {"messages": count}


if __name__ == "__main__":
    action, args = sys.argv[1], sys.argv[2:]
    if action == "deliver":
        out = deliver(args[0], args[1], args[2:])
    elif action == "imap-count":
        out = imap_count(*args)
    elif action == "pop3-count":
        out = pop3_count(*args)
    else:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(out))
