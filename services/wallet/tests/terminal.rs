//! The wallet's interactive prompts through a real pseudo-terminal (the
//! other tests pass passwords by environment and `--no-confirm`): `init`
//! asks for the password twice, shows the 24 words once and has three of
//! them typed back; a wrong word or two differing passwords write nothing;
//! `change-password` prompts for the old password and the new one twice.
//! No devnet is needed: these commands do not talk to the API.

#![allow(clippy::unwrap_used)] // test harness: a failed step should fail the test loudly

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Regex, Session};

struct Terminal {
    home: tempfile::TempDir,
}

impl Terminal {
    fn new() -> Terminal {
        Terminal {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn wallets(&self) -> std::path::PathBuf {
        self.home.path().join("wallets")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wallet"));
        command
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("WALLET_DIR", self.wallets())
            .env("WALLET_KDF_MEMORY_KIB", "1024")
            .args(["--wallet", "t"])
            .args(args);
        command
    }

    /// Runs the wallet on a pseudo-terminal.
    fn spawn(&self, args: &[&str]) -> OsSession {
        let mut session = Session::spawn(self.command(args)).unwrap();
        session.set_expect_timeout(Some(Duration::from_secs(30)));
        session
    }

    /// Files under the wallet folder (the keystore, once written).
    fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, found: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path.display().to_string());
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.wallets(), &mut found);
        found
    }
}

/// Reads the rest of the session's output and the exit status.
fn finish(mut session: OsSession) -> (String, bool) {
    let rest = session.expect(Eof).unwrap();
    let output = String::from_utf8_lossy(rest.as_bytes()).into_owned();
    let status = session.get_process_mut().wait().unwrap();
    let success = matches!(status, expectrl::process::unix::WaitStatus::Exited(_, 0));
    (output, success)
}

/// Types the passwords and returns the 24 words `init` shows.
fn passwords_and_words(session: &mut OsSession, first: &str, second: &str) -> Vec<String> {
    session.expect("new password: ").unwrap();
    session.send_line(first).unwrap();
    session.expect("repeat the password: ").unwrap();
    session.send_line(second).unwrap();
    let shown = session
        .expect(Regex(r"recover the wallet\):\s+([a-z ]+?)\s*\r?\n"))
        .unwrap();
    let words = String::from_utf8_lossy(shown.get(1).unwrap()).into_owned();
    words.split(' ').map(str::to_owned).collect()
}

/// Answers one "confirm: word #N:" prompt, right or wrong.
fn confirm(session: &mut OsSession, words: &[String], right: bool) -> usize {
    let asked = session.expect(Regex(r"confirm: word #(\d+): ")).unwrap();
    let position: usize = String::from_utf8_lossy(asked.get(1).unwrap())
        .parse()
        .unwrap();
    let word = &words[position - 1];
    if right {
        session.send_line(word).unwrap();
    } else {
        session.send_line(format!("{word}x")).unwrap();
    }
    position
}

#[test]
fn init_confirms_three_typed_words_and_change_password_prompts() {
    let terminal = Terminal::new();
    let mut session = terminal.spawn(&["init"]);
    let words = passwords_and_words(&mut session, "first secret", "first secret");
    assert_eq!(words.len(), 24, "{words:?}");
    let positions: Vec<usize> = (0..3)
        .map(|_| confirm(&mut session, &words, true))
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "three different positions in order: {positions:?}"
    );
    let (output, success) = finish(session);
    assert!(success, "init failed: {output}");
    assert_eq!(
        terminal.files().len(),
        1,
        "one keystore: {:?}",
        terminal.files()
    );

    // The typed password is the keystore's: the old one is asked for, then
    // the new one twice.
    let mut session = terminal.spawn(&["change-password"]);
    session.expect("password for ").unwrap();
    session.send_line("first secret").unwrap();
    session.expect("new password: ").unwrap();
    session.send_line("second secret").unwrap();
    session.expect("repeat the password: ").unwrap();
    session.send_line("second secret").unwrap();
    let (output, success) = finish(session);
    assert!(success, "change-password failed: {output}");

    // Without a terminal: the old password is refused, the new one opens it.
    let refused = terminal
        .command(&["--json", "change-password"])
        .env("WALLET_PASSWORD", "first secret")
        .env("WALLET_NEW_PASSWORD", "third secret")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("WRONG_PASSWORD"),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    let accepted = terminal
        .command(&["--json", "change-password"])
        .env("WALLET_PASSWORD", "second secret")
        .env("WALLET_NEW_PASSWORD", "third secret")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stdout)
    );
}

#[test]
fn a_wrong_confirmation_word_writes_no_wallet() {
    let terminal = Terminal::new();
    let mut session = terminal.spawn(&["init"]);
    let words = passwords_and_words(&mut session, "secret", "secret");
    confirm(&mut session, &words, true);
    let position = confirm(&mut session, &words, false);
    let (output, success) = finish(session);
    assert!(!success, "a wrong word was accepted: {output}");
    assert!(
        output.contains(&format!("word #{position} does not match")),
        "{output}"
    );
    assert!(terminal.files().is_empty(), "{:?}", terminal.files());
}

#[test]
fn two_different_passwords_write_no_wallet() {
    let terminal = Terminal::new();
    let mut session = terminal.spawn(&["init"]);
    session.expect("new password: ").unwrap();
    session.send_line("secret").unwrap();
    session.expect("repeat the password: ").unwrap();
    session.send_line("another").unwrap();
    let (output, success) = finish(session);
    assert!(!success, "differing passwords were accepted: {output}");
    assert!(output.contains("the two passwords differ"), "{output}");
    assert!(terminal.files().is_empty(), "{:?}", terminal.files());
}
