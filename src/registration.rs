//! The operator's setup code and the GitHub App registrations started with it: the code is
//! printed at start (and kept, mode 0600, beside the settings file until spent); a
//! registration is bound to the browser and the code that started it, and comes back once.
//! The setup page (`web::setup`) asks; this keeps the state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::settings::Settings;

/// How long a registration started on `/` may take to come back.
pub(crate) const STATE_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The file beside the settings file that holds the setup code until it is spent.
pub const SETUP_CODE_FILE: &str = "trainyard-setup-code";

/// The setup code's alphabet: Crockford's base 32 (no I, L, O, U), easy to read from a log.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

type Digest32 = [u8; 32];

fn digest(text: &str) -> Digest32 {
    Sha256::digest(text.as_bytes()).into()
}

/// A registration started by whoever gave the setup code: bound to their browser and to
/// that code.
#[derive(Debug, Clone)]
struct Pending {
    made: std::time::Instant,
    browser: Digest32,
    code: Digest32,
}

/// The one-time setup code (only its digest is kept in memory) and where it is written.
#[derive(Debug, Clone)]
struct SetupCode {
    digest: Digest32,
    file: Option<PathBuf>,
}

/// Setup belongs to the operator: the code printed at start, and the registrations started
/// with it and not yet come back (state → who started it).
#[derive(Debug, Clone, Default)]
pub struct SetupStates {
    pending: Arc<Mutex<HashMap<String, Pending>>>,
    code: Arc<Mutex<Option<SetupCode>>>,
}

/// Why a registration coming back is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Unknown, used already, or older than an hour.
    UnknownState,
    /// Started in another browser.
    OtherBrowser,
    /// Started with a code that is spent or replaced.
    CodeSpent,
}

/// A registration on its way: its code taken out of use until the outcome is known.
pub(crate) struct Claim {
    code: SetupCode,
}

impl SetupStates {
    /// Makes the setup code (or takes the unspent one kept in the data folder) and returns it
    /// with the file holding it (mode 0600; `None` when it cannot be written).
    pub fn prepare(&self, settings: &Settings) -> (String, Option<PathBuf>) {
        let folder = settings
            .settings_file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let file = folder.join(SETUP_CODE_FILE);
        let kept = std::fs::read_to_string(&file)
            .ok()
            .map(|text| normalise_code(&text))
            .filter(|code| code.len() == 20 && code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        let code = kept.unwrap_or_else(new_code);
        let written = match write_private(&file, &format!("{}\n", grouped(&code))) {
            Ok(()) => Some(file),
            Err(error) => {
                tracing::warn!(%error, file = %file.display(), "cannot write the setup code's file");
                None
            }
        };
        *self.code.lock().unwrap_or_else(|p| p.into_inner()) = Some(SetupCode {
            digest: digest(&code),
            file: written.clone(),
        });
        (grouped(&code), written)
    }

    /// Whether `given` is the setup code (spelled in any case, with or without dashes).
    pub(crate) fn is_code(&self, given: &str) -> Option<Digest32> {
        let given = digest(&normalise_code(given));
        let code = self.code.lock().unwrap_or_else(|p| p.into_inner());
        code.as_ref()
            .filter(|code| code.digest == given)
            .map(|code| code.digest)
    }

    /// Whether a code is waiting to be given.
    pub(crate) fn has_code(&self) -> bool {
        self.code
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// A registration's state, for the browser holding `browser` that gave `code`.
    pub(crate) fn issue(&self, browser: &str, code: Digest32) -> String {
        let state = format!("{:032x}", rand::random::<u128>());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.made.elapsed() < STATE_TTL);
        pending.insert(
            state.clone(),
            Pending {
                made: std::time::Instant::now(),
                browser: digest(browser),
                code,
            },
        );
        state
    }

    /// Spends `state` for the browser holding `browser`, taking the setup code out of use
    /// until [`SetupStates::finish`] says how it ended.
    pub(crate) fn claim(&self, state: &str, browser: Option<&str>) -> Result<Claim, Refusal> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)
            .filter(|p| p.made.elapsed() < STATE_TTL)
            .ok_or(Refusal::UnknownState)?;
        if browser.map(digest) != Some(pending.browser) {
            return Err(Refusal::OtherBrowser);
        }
        let mut code = self.code.lock().unwrap_or_else(|p| p.into_inner());
        match code.take() {
            Some(current) if current.digest == pending.code => Ok(Claim { code: current }),
            other => {
                *code = other;
                Err(Refusal::CodeSpent)
            }
        }
    }

    /// The registration ended: on success the code is spent (its file removed), otherwise it
    /// is back in use.
    pub(crate) fn finish(&self, claim: Claim, registered: bool) {
        if registered {
            if let Some(file) = &claim.code.file {
                let _ = std::fs::remove_file(file);
            }
        } else {
            *self.code.lock().unwrap_or_else(|p| p.into_inner()) = Some(claim.code);
        }
    }
}

/// A new code: 20 characters of [`CODE_ALPHABET`], 100 random bits.
fn new_code() -> String {
    let bits: u128 = rand::random();
    (0..20)
        .map(|i| CODE_ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The code as typed: capitals, without dashes or spaces.
fn normalise_code(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `ABCD-EFGH-…`, as printed.
fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Writes `text` to `file`, readable by this user only.
pub(crate) fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(file)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        out.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    out.write_all(text.as_bytes())?;
    out.sync_all()
}
