//! Zip archives: members, limits and the archives that are refused.

use std::io::{Cursor, Write};

use files::{ZipError, ZipLimits, is_zip, unzip};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// An archive of the given entries; a name ending in `/` is a directory.
fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        if name.ends_with('/') {
            writer.add_directory(*name, options).expect("directory");
        } else {
            writer.start_file(*name, options).expect("entry");
            writer.write_all(bytes).expect("content");
        }
    }
    writer.finish().expect("archive").into_inner()
}

#[test]
fn an_archive_gives_its_files_in_order_without_directories() {
    let zipped = archive(&[("expense/", b""), ("expense/sae.txt", b"EXTRACT|1"), ("prae.txt", b"EXTRACT|2")]);
    assert!(is_zip(&zipped));
    let members = unzip(&zipped, &ZipLimits::default()).expect("unzip");
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["expense/sae.txt", "prae.txt"]);
    assert_eq!(members[0].bytes, b"EXTRACT|1");
    assert_eq!(members[1].bytes, b"EXTRACT|2");
}

#[test]
fn a_path_that_escapes_is_refused() {
    for name in ["../evil.txt", "expense/../../evil.txt", "/etc/evil.txt"] {
        let zipped = archive(&[("good.txt", b"ok"), (name, b"evil")]);
        let error = unzip(&zipped, &ZipLimits::default()).expect_err("unsafe path");
        assert!(matches!(&error, ZipError::UnsafeName { name: found } if found == name), "{name}: {error:?}");
    }
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..5).map(|i| format!("file{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let zipped = archive(&entries);
    let limits = ZipLimits { max_entries: 4, ..ZipLimits::default() };
    let error = unzip(&zipped, &limits).expect_err("too many");
    assert!(matches!(error, ZipError::TooManyEntries { count: 5, limit: 4 }), "{error:?}");
    assert_eq!(unzip(&zipped, &ZipLimits { max_entries: 5, ..limits }).expect("at the limit").len(), 5);
}

#[test]
fn an_oversized_archive_is_refused_while_inflating() {
    let zeros = vec![0u8; 2 * 1024 * 1024];
    let zipped = archive(&[("a.txt", &zeros[..1024 * 1024]), ("b.txt", &zeros)]);
    assert!(zipped.len() < 16 * 1024, "a small zip: {} bytes", zipped.len());
    let limits = ZipLimits { max_total_bytes: 2 * 1024 * 1024, ..ZipLimits::default() };
    let error = unzip(&zipped, &limits).expect_err("too large in total");
    assert!(matches!(error, ZipError::TooLarge { limit } if limit == 2 * 1024 * 1024), "{error:?}");
    let limits = ZipLimits { max_total_bytes: 3 * 1024 * 1024, ..limits };
    assert_eq!(unzip(&zipped, &limits).expect("exactly at the limit").len(), 2);
}

/// Sets the "encrypted" flag (general purpose bit 0) in every local and
/// central header: enough for a reader to see a password-protected entry.
fn flag_encrypted(zipped: &mut [u8]) {
    for at in 0..zipped.len().saturating_sub(10) {
        match &zipped[at..at + 4] {
            b"PK\x03\x04" => zipped[at + 6] |= 1,
            b"PK\x01\x02" => zipped[at + 8] |= 1,
            _ => {}
        }
    }
}

#[test]
fn an_encrypted_entry_is_refused() {
    let mut zipped = archive(&[("secret.txt", b"data")]);
    flag_encrypted(&mut zipped);
    let error = unzip(&zipped, &ZipLimits::default()).expect_err("encrypted");
    assert!(matches!(&error, ZipError::Encrypted { name } if name == "secret.txt"), "{error:?}");
}

#[test]
fn damage_is_refused() {
    assert!(!is_zip(b"EXTRACT|1"));
    assert!(matches!(unzip(b"not a zip", &ZipLimits::default()), Err(ZipError::Malformed { .. })));
    // A changed byte of stored content fails the CRC.
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    writer.start_file("a.txt", stored).expect("entry");
    writer.write_all(b"EXTRACT|1|2|3").expect("content");
    let mut zipped = writer.finish().expect("archive").into_inner();
    let at = zipped.windows(7).position(|w| w == b"EXTRACT").expect("content in the archive");
    zipped[at] = b'X';
    let error = unzip(&zipped, &ZipLimits::default()).expect_err("bad CRC");
    assert!(matches!(&error, ZipError::Member { name, .. } if name == "a.txt"), "{error:?}");
    // Cut in half: the central directory is gone.
    let zipped = archive(&[("a.txt", b"EXTRACT|1")]);
    assert!(matches!(unzip(&zipped[..zipped.len() / 2], &ZipLimits::default()), Err(ZipError::Malformed { .. })));
}
