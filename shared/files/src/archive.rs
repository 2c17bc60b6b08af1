//! Zip archives: Concur may deliver an extract zipped (one or more CSV files),
//! and a zip can be crafted to exhaust memory or to carry paths that escape a
//! directory. Members are returned as bytes; nothing touches the file system.

use std::fmt;
use std::io::{Cursor, Read};

use zip::ZipArchive;
use zip::result::ZipError as LibError;

use crate::util::{Cause, guard};

/// Bounds on what [`unzip`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Entries in the archive, directories included.
    pub max_entries: usize,
    /// Uncompressed bytes of all members together.
    pub max_total_bytes: u64,
}

impl ZipLimits {
    /// An extract is a handful of files; 64 entries is far above that.
    pub const DEFAULT_MAX_ENTRIES: usize = 64;
    /// The same bound as a decrypted file (`MAX_PLAINTEXT_BYTES`).
    pub const DEFAULT_MAX_TOTAL_BYTES: u64 = crate::MAX_PLAINTEXT_BYTES;
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits { max_entries: Self::DEFAULT_MAX_ENTRIES, max_total_bytes: Self::DEFAULT_MAX_TOTAL_BYTES }
    }
}

/// One file of an archive.
#[derive(Clone, PartialEq, Eq)]
pub struct ZipMember {
    /// The path inside the archive (`/`-separated, relative, without `..`).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Prints the size, not the content.
impl fmt::Debug for ZipMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZipMember").field("name", &self.name).field("bytes", &self.bytes.len()).finish()
    }
}

/// Why an archive was refused. Nothing of a refused archive is returned.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("the file is not a readable zip archive ({cause}); it is damaged or not a zip: fetch it again from Concur")]
    Malformed {
        #[source]
        cause: Cause,
    },
    #[error("the zip archive has {count} entries, more than the {limit} accepted; an extract holds a few files")]
    TooManyEntries { count: usize, limit: usize },
    #[error(
        "the zip archive's contents exceed {limit} bytes uncompressed and were not kept (a zip bomb, or an \
         extract far larger than expected); if it is genuinely that large, raise the limit"
    )]
    TooLarge { limit: u64 },
    #[error(
        "zip entry `{name}` is password-protected; zip encryption is not supported (and weak): \
         have the file encrypted with the connection's OpenPGP key instead"
    )]
    Encrypted { name: String },
    #[error("zip entry `{name}` has an unsafe path (absolute, or with `..`); the archive is refused")]
    UnsafeName { name: String },
    #[error(
        "zip entry `{name}` cannot be read ({cause}); the archive is damaged or uses an unsupported \
         compression (only stored and deflate are read)"
    )]
    Member {
        name: String,
        #[source]
        cause: Cause,
    },
}

/// Whether the input starts with a zip local file header (`PK\x03\x04`).
pub fn is_zip(input: &[u8]) -> bool {
    input.starts_with(b"PK\x03\x04")
}

/// The files of a zip archive, in archive order, directories skipped.
///
/// Refuses the whole archive when it has more entries than allowed, holds
/// more uncompressed bytes than allowed (counted while inflating, so a zip
/// bomb stops at the limit whatever sizes its headers claim), has a
/// password-protected entry, or an entry whose path is absolute or contains
/// `..`. Member checksums (CRC-32) are verified.
pub fn unzip(input: &[u8], limits: &ZipLimits) -> Result<Vec<ZipMember>, ZipError> {
    let on_panic = || ZipError::Malformed { cause: Cause::new("the zip reader failed on this input") };
    guard(|| unzip_unguarded(input, limits), on_panic)
}

fn unzip_unguarded(input: &[u8], limits: &ZipLimits) -> Result<Vec<ZipMember>, ZipError> {
    let mut archive = ZipArchive::new(Cursor::new(input)).map_err(|e| ZipError::Malformed { cause: Cause::new(e) })?;
    if archive.len() > limits.max_entries {
        return Err(ZipError::TooManyEntries { count: archive.len(), limit: limits.max_entries });
    }
    let mut members = Vec::new();
    let mut remaining = limits.max_total_bytes;
    for index in 0..archive.len() {
        let Some(name) = member_name(&mut archive, index)? else { continue };
        let bytes = read_member(&mut archive, index, &name, remaining, limits.max_total_bytes)?;
        remaining -= u64::try_from(bytes.len()).unwrap_or(u64::MAX).min(remaining);
        members.push(ZipMember { name, bytes });
    }
    Ok(members)
}

/// The entry's name after the safety checks, or `None` for a directory. Reads
/// only the entry's metadata.
fn member_name(archive: &mut ZipArchive<Cursor<&[u8]>>, index: usize) -> Result<Option<String>, ZipError> {
    let entry = archive.by_index_raw(index).map_err(|e| ZipError::Malformed { cause: Cause::new(e) })?;
    let name = entry.name().to_string();
    if entry.is_dir() {
        return Ok(None);
    }
    if !is_safe_path(&name) {
        return Err(ZipError::UnsafeName { name });
    }
    if entry.encrypted() {
        return Err(ZipError::Encrypted { name });
    }
    Ok(Some(name))
}

/// A relative path without `..`, drive letters or NUL: one that cannot
/// leave the directory it would be extracted into.
fn is_safe_path(name: &str) -> bool {
    let absolute = name.starts_with(['/', '\\']) || name.as_bytes().get(1) == Some(&b':');
    let parent = name.split(['/', '\\']).any(|part| part == "..");
    !(name.is_empty() || absolute || parent || name.contains('\0'))
}

/// Inflates one entry, reading at most one byte past what the total limit
/// leaves.
fn read_member(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    index: usize,
    name: &str,
    remaining: u64,
    limit: u64,
) -> Result<Vec<u8>, ZipError> {
    let member_error = |cause: Cause| ZipError::Member { name: name.to_string(), cause };
    let entry = archive.by_index(index).map_err(|e| match e {
        LibError::UnsupportedArchive(LibError::PASSWORD_REQUIRED) => ZipError::Encrypted { name: name.to_string() },
        other => member_error(Cause::new(other)),
    })?;
    let mut bytes = Vec::new();
    entry.take(remaining.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| member_error(Cause::new(e)))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > remaining {
        return Err(ZipError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_recognised() {
        for name in ["../evil", "a/../../evil", "/etc/passwd", "\\windows", "C:evil", "a\\..\\b", "", "a\0b"] {
            assert!(!is_safe_path(name), "{name:?} should be unsafe");
        }
        for name in ["extract.csv", "dir/extract.csv", "a..b.csv", "..hidden", "dir/.../x"] {
            assert!(is_safe_path(name), "{name:?} should be safe");
        }
    }
}
