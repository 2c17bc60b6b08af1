//! A file as delivered → the documents it holds, or why it is refused whole (issue 15): decrypted with the
//! connection's keys when it is OpenPGP, unpacked when it is a zip, every extract in it read to the end and
//! checked against its header before any document is handed on.

use std::io::Cursor;

use crate::{DecryptError, Keyring, ZipError, ZipLimits};
use domain::extract::{
    Delimiter, Documents, ExtractError, ExtractOptions, ExtractReader, ExtractSummary, FileDocument,
};

/// The documents of a file that checked out.
#[derive(Debug)]
pub struct OpenedFile {
    pub documents: Vec<FileDocument>,
    /// One summary per extract in the file (a zip may hold an SAE and a PRAE).
    pub extracts: Vec<(String, ExtractSummary)>,
    /// Members of a zip that are not extracts (a QuickBooks `.IIF` beside the SAE), left alone.
    pub skipped: Vec<String>,
    /// The key that decrypted it, when it was encrypted.
    pub key_fingerprint: Option<String>,
}

/// Why a file is refused; nothing from it is staged or posted.
#[derive(Debug, thiserror::Error)]
pub enum FileRefused {
    #[error(
        "the file is OpenPGP-encrypted and the connection holds no decryption key: add the private key whose \
         public half was given to Concur with `connector keys add {connection} --file KEY.asc`, then take the file again"
    )]
    NoKey { connection: String },
    #[error("the file could not be decrypted: {0}")]
    Decrypt(#[from] DecryptError),
    #[error("the zip file could not be unpacked: {0}")]
    Zip(#[from] ZipError),
    #[error("{member}: {source}. Nothing from the file was posted; ask Concur for a corrected file")]
    Extract {
        member: String,
        #[source]
        source: ExtractError,
    },
    #[error("the file holds no Standard Accounting Extract or Payment Request Accounting Extract ({found})")]
    NoExtract { found: String },
}

/// Opens `bytes` (plain, OpenPGP-encrypted, zipped, or encrypted and zipped) with the connection's keys.
/// `delimiter`: the connection's; `None` recognises it from each extract's header record (`EXTRACT,` or
/// `Extract|`…), as an offline preview does.
pub fn open_file(
    connection: &str,
    bytes: &[u8],
    keys: Option<&Keyring>,
    delimiter: Option<Delimiter>,
) -> Result<OpenedFile, FileRefused> {
    let (plain, key_fingerprint) = if crate::looks_encrypted(bytes) {
        let keys =
            keys.filter(|k| !k.is_empty()).ok_or_else(|| FileRefused::NoKey { connection: connection.to_owned() })?;
        let decrypted = crate::decrypt(keys, bytes)?;
        (decrypted.plaintext, Some(decrypted.key_fingerprint))
    } else {
        (bytes.to_vec(), None)
    };
    let members = if crate::is_zip(&plain) {
        crate::unzip(&plain, &ZipLimits::default())?.into_iter().map(|m| (m.name, m.bytes)).collect()
    } else {
        vec![("the file".to_owned(), plain)]
    };
    let mut opened = OpenedFile { documents: Vec::new(), extracts: Vec::new(), skipped: Vec::new(), key_fingerprint };
    let only_member = members.len() == 1;
    for (name, member) in members {
        let options = ExtractOptions { delimiter: delimiter.or_else(|| header_delimiter(&member)).unwrap_or_default() };
        match read_extract(&member, options) {
            Ok((documents, summary)) => {
                opened.documents.extend(documents);
                opened.extracts.push((name, summary));
            }
            // A zip may carry other files beside the extract; a lone file must be one.
            Err(ExtractError::UnknownHeader { .. }) if !only_member => opened.skipped.push(name),
            Err(source) => return Err(FileRefused::Extract { member: name, source }),
        }
    }
    if opened.extracts.is_empty() {
        return Err(FileRefused::NoExtract { found: opened.skipped.join(", ") });
    }
    Ok(opened)
}

/// Whether `bytes` look like an extract file, as delivered: encrypted, zipped, or starting with an SAE or
/// PRAE header record.
pub fn looks_like_extract(bytes: &[u8]) -> bool {
    crate::looks_encrypted(bytes) || crate::is_zip(bytes) || header_delimiter(bytes).is_some()
}

/// The delimiter after the header marker of an SAE (`EXTRACT`) or PRAE (`Extract`), after an optional BOM.
fn header_delimiter(bytes: &[u8]) -> Option<Delimiter> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let after = text.strip_prefix(b"EXTRACT").or_else(|| text.strip_prefix(b"Extract"))?;
    [Delimiter::Comma, Delimiter::Pipe, Delimiter::Tab, Delimiter::Semicolon]
        .into_iter()
        .find(|d| after.first() == Some(&d.byte()))
}

/// Every document of one extract, once the whole extract adds up.
fn read_extract(bytes: &[u8], options: ExtractOptions) -> Result<(Vec<FileDocument>, ExtractSummary), ExtractError> {
    let reader = ExtractReader::new(Cursor::new(bytes), options)?;
    let header = reader.header().clone();
    let mut documents = Vec::new();
    let mut rows = 0u64;
    for document in Documents::new(reader) {
        let document = document?;
        rows += document.rows.len() as u64;
        documents.push(FileDocument::from_rows(&document)?);
    }
    // The iteration ended without an error: the count and total matched the header.
    let summary = ExtractSummary { journal_amount_sum: header.journal_amount_total, header, rows };
    Ok((documents, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SAE of one report of two rows (a debit and its credit).
    fn sae() -> String {
        let row = |amount: &str| {
            let mut fields = vec![""; 170];
            fields[0] = "DETAIL";
            for (position, value) in [
                (5, "E1"),
                (19, "R1"),
                (20, "11"),
                (22, "USD"),
                (61, "1"),
                (164, "COMP"),
                (166, "EMPL"),
                (167, "400"),
                (169, amount),
            ] {
                fields[position - 1] = value;
            }
            fields.join(",")
        };
        format!("EXTRACT,2026-12-01,2,0,1\n{}\n{}\n", row("10"), row("-10"))
    }

    #[test]
    fn a_plain_extract_opens_and_a_broken_one_is_refused_whole() {
        let opened = open_file("c1", sae().as_bytes(), None, None).expect("opens");
        assert_eq!((opened.documents.len(), opened.extracts.len()), (1, 1));
        assert_eq!(opened.documents[0].business_id.as_str(), "R1");
        let wrong_count = sae().replacen(",2,0,1", ",3,0,1", 1);
        let refused = open_file("c1", wrong_count.as_bytes(), None, Some(Delimiter::Comma)).expect_err("count");
        assert!(matches!(refused, FileRefused::Extract { source: ExtractError::CountMismatch { .. }, .. }));
        assert!(matches!(open_file("c1", b"hello", None, None), Err(FileRefused::Extract { .. })));
    }

    #[test]
    fn an_encrypted_extract_needs_a_key_of_the_connection() {
        let (secret, public) = crate::generate_key("Acme <ap@acme.test>", None).expect("key");
        let encrypted = crate::encrypt_to(&public, sae().as_bytes()).expect("encrypts");
        assert!(matches!(open_file("c1", &encrypted, None, None), Err(FileRefused::NoKey { .. })));
        let keys = Keyring::from_armored(&[crate::KeySource::new(&secret)]).expect("keyring");
        let opened = open_file("c1", &encrypted, Some(&keys), None).expect("decrypts");
        assert_eq!(opened.documents.len(), 1);
        assert_eq!(opened.key_fingerprint.as_deref(), Some(keys.keys()[0].fingerprint.as_str()));
    }
}
