//! Hand-written SAE and PRAE files: reading, quoting, every refusal with its row and column, grouping, and
//! arbitrary bytes that must never panic.

use std::io::{BufReader, Cursor};
use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

/// A detail row carrying the given (position, value) pairs; columns after the last one are left out, as the
/// reader allows.
fn detail(layout: &Layout, delimiter: char, values: &[(u16, &str)]) -> String {
    let width = values.iter().map(|(position, _)| usize::from(*position)).max().unwrap_or(1);
    let mut fields = vec![""; width];
    fields[0] = layout.detail_marker;
    for (position, value) in values {
        fields[usize::from(*position) - 1] = value;
    }
    fields.join(&delimiter.to_string())
}

/// An SAE detail row for report `key` with a journal amount.
fn sae_row(key: &str, amount: &str) -> String {
    let report_id = format!("RPT-{key}");
    detail(&SAE, ',', &[(19, &report_id), (20, key), (169, amount), (170, "9001")])
}

/// An SAE file: its header, then the rows, each line ended by `\n`.
fn sae_file(count: u64, total: &str, rows: &[String]) -> String {
    let mut file = format!("EXTRACT,2024-03-01,{count},{total},7\n");
    rows.iter().for_each(|row| {
        file.push_str(row);
        file.push('\n');
    });
    file
}

fn options(delimiter: Delimiter) -> ExtractOptions {
    ExtractOptions { delimiter }
}

/// Every row of a file, or why it was refused.
fn read_all(file: &[u8], delimiter: Delimiter) -> Result<Vec<OwnedRow>, ExtractError> {
    let mut reader = ExtractReader::new(file, options(delimiter))?;
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row()? {
        rows.push(row.to_owned_row());
    }
    Ok(rows)
}

fn refusal(file: &[u8], delimiter: Delimiter) -> ExtractError {
    read_all(file, delimiter).expect_err("the file must be refused")
}

fn cell(row: u64, position: usize, name: &'static str) -> Cell {
    Cell { row, position, name }
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

#[test]
fn extract_sae_comma_file_reads_header_rows_and_adds_up() {
    let file = sae_file(2, "25.50", &[sae_row("101", "+50.00"), sae_row("101", "-24.50")]);
    let mut reader = ExtractReader::new(file.as_bytes(), ExtractOptions::default()).expect("header");
    let header = reader.header().clone();
    assert_eq!(header.kind, ExtractKind::Sae);
    assert_eq!(header.batch_id, "7");
    assert_eq!(header.batch_date, time::macros::date!(2024 - 03 - 01));
    assert_eq!((header.record_count, header.journal_amount_total), (2, dec("25.5")));
    let row = reader.next_row().expect("row").expect("a first row");
    assert_eq!(row.number(), 2);
    assert_eq!(row.get(1), Some("DETAIL"));
    assert_eq!(row.named("Report ID"), Some("RPT-101"));
    assert_eq!(row.document_key().value, "101");
    assert_eq!(row.named("Journal Amount"), Some("+50.00"));
    assert_eq!(row.journal_amount(), dec("50"));
    assert_eq!((row.get(400), row.get(401), row.get(0)), (Some(""), None, None));
    assert_eq!(row.named("No Such Column"), None);
    assert_eq!(row.columns().count(), 170);
    let summary = reader.finish().expect("the file adds up");
    assert_eq!((summary.rows, summary.journal_amount_sum), (2, dec("25.50")));
}

#[test]
fn extract_prae_pipe_file_uses_its_own_header_order_and_date_format() {
    let rows = [
        detail(&PRAE, '|', &[(2, "5001"), (51, "REQ-1"), (62, "100.00"), (63, "119.00")]),
        detail(&PRAE, '|', &[(2, "5001"), (51, "REQ-1"), (62, "19.00")]),
        detail(&PRAE, '|', &[(2, "5002"), (51, "REQ-2"), (62, "0")]),
    ];
    let file = format!("Extract|12345678901234567890|2024/12/31|3|119.00\n{}\n", rows.join("\n"));
    let mut reader = ExtractReader::new(Cursor::new(file), options(Delimiter::Pipe)).expect("header");
    let header = reader.header();
    assert_eq!(header.kind, ExtractKind::Prae);
    assert_eq!(header.batch_id, "12345678901234567890");
    assert_eq!(header.batch_date, time::macros::date!(2024 - 12 - 31));
    let row = reader.next_row().expect("row").expect("a row");
    assert_eq!((row.named("Request ID"), row.document_key().value), (Some("REQ-1"), "5001"));
    assert_eq!(row.named("Journal Gross Amount"), Some("119.00"));
    assert_eq!(row.get(256), Some(""));
    assert_eq!(reader.finish().expect("adds up").rows, 3);
}

#[test]
fn extract_quoted_fields_hold_delimiters_quotes_and_line_breaks() {
    let quoted = "DETAIL,,,,,,,,,,,,,,,,,,R1,101,,,,,,,\"Trip, \"\"Berlin\"\"\nday 2\",\"\"";
    let file = format!("{}{quoted},{}2\n", sae_file(2, "3", &[sae_row("101", "1")]), ",".repeat(140));
    let rows = read_all(file.as_bytes(), Delimiter::Comma).expect("adds up");
    let row = rows[1].view();
    assert_eq!(row.named("Report Name"), Some("Trip, \"Berlin\"\nday 2"));
    assert_eq!(row.get(28), Some(""));
    assert_eq!(row.journal_amount(), dec("2"));
    // The header is row 1, the first detail row 2: the quoted line break does not start a row.
    assert_eq!(row.number(), 3);
}

#[test]
fn extract_reads_the_same_whatever_the_buffer_size() {
    let quoted = format!("{},\"a,\"\"b\"\"\nc\"", sae_row("7", "-1.5"));
    let file = sae_file(2, "-0.5", &[sae_row("6", "1"), quoted]).replace('\n', "\r\n");
    let expected = read_all(file.as_bytes(), Delimiter::Comma).expect("adds up");
    assert_eq!(expected[1].view().get(171), Some("a,\"b\"\r\nc"));
    for capacity in [1, 2, 3, 5, 16, 64] {
        let mut reader =
            ExtractReader::new(BufReader::with_capacity(capacity, file.as_bytes()), options(Delimiter::Comma))
                .expect("header");
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row().expect("row") {
            rows.push(row.to_owned_row());
        }
        assert_eq!(rows, expected, "buffer of {capacity} bytes");
    }
}

#[test]
fn extract_bom_and_crlf_line_endings_are_read() {
    let file = format!("\u{feff}{}", sae_file(1, "12.34", &[sae_row("1", "12.34")])).replace('\n', "\r\n");
    let rows = read_all(file.as_bytes(), Delimiter::Comma).expect("adds up");
    assert_eq!(rows[0].view().named("Journal Key"), Some("9001"));
    assert_eq!(rows[0].view().journal_amount(), dec("12.34"));
}

#[test]
fn extract_blank_lines_are_skipped_and_an_empty_extract_adds_up() {
    let file = format!("\n{}\r\n\n", sae_file(1, "1", &[sae_row("1", "1")]));
    assert_eq!(read_all(file.as_bytes(), Delimiter::Comma).expect("adds up").len(), 1);
    // §4: "an extract file is always produced, even if there are no reports".
    assert!(read_all(b"EXTRACT,2024-03-01,0,0,8", Delimiter::Comma).expect("adds up").is_empty());
}

#[test]
fn extract_sums_amounts_exactly() {
    let rows = [sae_row("1", "0.1"), sae_row("1", "0.2"), sae_row("1", "-0.3"), sae_row("1", "0.00000001")];
    let file = sae_file(4, "0.00000001", &rows);
    assert_eq!(read_all(file.as_bytes(), Delimiter::Comma).expect("adds up").len(), 4);
}

#[test]
fn extract_refuses_a_broken_quote_naming_row_and_column() {
    let mut rows: Vec<String> = (0..15).map(|_| sae_row("1", "1")).collect();
    rows.push(format!("DETAIL{}\"Paris\"x,", ",".repeat(26)));
    let file = sae_file(16, "16", &rows);
    match refusal(file.as_bytes(), Delimiter::Comma) {
        ExtractError::BrokenQuote { at } => assert_eq!(at, cell(17, 27, "Report Name")),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn extract_refuses_an_unterminated_quote() {
    let file = format!("{}DETAIL,\"never closed\n", sae_file(1, "1", &[]));
    match refusal(file.as_bytes(), Delimiter::Comma) {
        ExtractError::UnterminatedQuote { at } => assert_eq!(at, cell(2, 2, "Batch ID")),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn extract_refuses_a_journal_amount_that_is_not_a_number() {
    for amount in ["12,50", "abc", "", "1_000", "1e3", "+", "1.2.3", " 5"] {
        let row = detail(&SAE, '|', &[(20, "1"), (169, amount)]);
        let file = format!("EXTRACT|2024-03-01|1|0|1\n{row}\n");
        match refusal(file.as_bytes(), Delimiter::Pipe) {
            ExtractError::NotANumber { at, value } => {
                assert_eq!(at, cell(2, 169, "Journal Amount"));
                assert_eq!(value, amount);
            }
            other => panic!("{amount:?}: unexpected {other}"),
        }
    }
}

#[test]
fn extract_refuses_a_record_count_that_differs_from_the_rows() {
    let rows: Vec<String> = (0..11).map(|_| sae_row("1", "1")).collect();
    match refusal(sae_file(12, "11", &rows).as_bytes(), Delimiter::Comma) {
        ExtractError::CountMismatch { at, header, rows } => {
            assert_eq!(at, cell(1, 3, "Record_Count"));
            assert_eq!((header, rows), (12, 11));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn extract_refuses_a_journal_total_that_differs_from_the_rows() {
    let error = refusal(sae_file(2, "3.00", &[sae_row("1", "1"), sae_row("1", "1.99")]).as_bytes(), Delimiter::Comma);
    match &error {
        ExtractError::TotalMismatch { at, header, rows } => {
            assert_eq!(*at, cell(1, 4, "Journal Amount Total"));
            assert_eq!((*header, *rows), (dec("3"), dec("2.99")));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(
        error.to_string(),
        "row 1, column 4 `Journal Amount Total`: the header's journal total is 3.00, the detail rows add up to 2.99"
    );
    let prae = format!("Extract|1|2024/01/02|1|5\n{}\n", detail(&PRAE, '|', &[(2, "1"), (62, "4")]));
    match refusal(prae.as_bytes(), Delimiter::Pipe) {
        ExtractError::TotalMismatch { at, .. } => assert_eq!(at, cell(1, 5, "JournalAmountTotal")),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn extract_refuses_malformed_headers() {
    assert!(matches!(refusal(b"", Delimiter::Comma), ExtractError::Empty));
    assert!(matches!(refusal(b"\n\r\n", Delimiter::Comma), ExtractError::Empty));
    match refusal(b"extract,2024-03-01,0,0,1\n", Delimiter::Comma) {
        ExtractError::UnknownHeader { at, found } => {
            assert_eq!((at.row, at.position, found.as_str()), (1, 1, "extract"))
        }
        other => panic!("unexpected {other}"),
    }
    // A PRAE header with the SAE date format.
    match refusal(b"Extract|1|2024-03-01|0|0\n", Delimiter::Pipe) {
        ExtractError::NotADate { at, .. } => assert_eq!(at, cell(1, 3, "BatchDate")),
        other => panic!("unexpected {other}"),
    }
    match refusal(b"EXTRACT,2024-03-01,-1,0,1\n", Delimiter::Comma) {
        ExtractError::NotANumber { at, .. } => assert_eq!(at, cell(1, 3, "Record_Count")),
        other => panic!("unexpected {other}"),
    }
    match refusal(b"EXTRACT,2024-03-01,0,0\n", Delimiter::Comma) {
        ExtractError::NotANumber { at, .. } => assert_eq!(at, cell(1, 5, "Batch ID")),
        other => panic!("unexpected {other}"),
    }
    // The delimiter configured does not match the file's.
    assert!(matches!(refusal(b"EXTRACT|2024-03-01|0|0|1\n", Delimiter::Comma), ExtractError::UnknownHeader { .. }));
}

#[test]
fn extract_refuses_rows_that_break_the_layout() {
    let wrong_marker = sae_file(1, "1", &[detail(&PRAE, ',', &[(169, "1")])]);
    match refusal(wrong_marker.as_bytes(), Delimiter::Comma) {
        ExtractError::WrongMarker { at, expected, found } => {
            assert_eq!((at, expected, found.as_str()), (cell(2, 1, "Constant"), "DETAIL", "Detail"));
        }
        other => panic!("unexpected {other}"),
    }
    let too_wide = sae_file(1, "1", &[format!("{},x", detail(&SAE, ',', &[(169, "1"), (400, "last")]))]);
    assert!(matches!(
        refusal(too_wide.as_bytes(), Delimiter::Comma),
        ExtractError::TooManyColumns { row: 2, max: 400 }
    ));
    let too_long = sae_file(1, "1", &[format!("DETAIL,{}", "x".repeat(MAX_RECORD_BYTES))]);
    assert!(matches!(refusal(too_long.as_bytes(), Delimiter::Comma), ExtractError::RecordTooLong { row: 2, .. }));
    let mut not_utf8 = sae_file(1, "1", &[]).into_bytes();
    not_utf8.extend_from_slice(b"DETAIL,1,2,\xff\xfe\n");
    match refusal(&not_utf8, Delimiter::Comma) {
        ExtractError::InvalidUtf8 { at } => assert_eq!(at, cell(2, 4, "Sequence Number")),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn extract_a_refused_file_stays_refused() {
    let file = sae_file(1, "1", &[sae_row("1", "x"), sae_row("1", "1")]);
    let mut reader = ExtractReader::new(file.as_bytes(), ExtractOptions::default()).expect("header");
    let first = reader.next_row().expect_err("refused").to_string();
    let again = reader.next_row().expect_err("still refused").to_string();
    assert_eq!(first, again);
    assert!(ExtractReader::verify(file.as_bytes(), ExtractOptions::default()).is_err());
}

fn documents(file: &str) -> Vec<Result<Document, ExtractError>> {
    Documents::new(ExtractReader::new(file.as_bytes(), ExtractOptions::default()).expect("header")).collect()
}

#[test]
fn extract_groups_consecutive_rows_by_report_key() {
    let rows = [sae_row("A", "1"), sae_row("A", "2"), sae_row("B", "3"), sae_row("C", "4"), sae_row("C", "5")];
    let grouped: Vec<Document> =
        documents(&sae_file(5, "15", &rows)).into_iter().collect::<Result<_, _>>().expect("adds up");
    let shape: Vec<(&str, usize)> =
        grouped.iter().map(|document| (document.key.as_str(), document.rows.len())).collect();
    assert_eq!(shape, [("A", 2), ("B", 1), ("C", 2)]);
    assert_eq!(grouped[2].rows[1].view().number(), 6);
}

#[test]
fn extract_grouping_refuses_a_document_split_across_the_file() {
    let rows = [sae_row("A", "1"), sae_row("B", "1"), sae_row("A", "1")];
    let results = documents(&sae_file(3, "3", &rows));
    assert_eq!(results.len(), 3, "two documents, then the refusal, then nothing");
    match &results[2] {
        Err(ExtractError::SplitDocument { at, key, first_row }) => {
            assert_eq!((at, key.as_str(), *first_row), (&cell(4, 20, "Report Key"), "A", 2));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn extract_grouping_ends_with_the_file_check() {
    let results = documents(&sae_file(2, "9", &[sae_row("A", "1"), sae_row("B", "1")]));
    assert!(matches!(results.last(), Some(Err(ExtractError::TotalMismatch { .. }))));
}

#[test]
fn extract_layouts_match_the_reference() {
    assert_eq!((SAE.detail.len(), PRAE.detail.len()), (400, 256));
    for layout in [&SAE, &PRAE] {
        assert!(layout.detail.iter().enumerate().all(|(index, column)| usize::from(column.position) == index + 1));
        assert_eq!(
            layout.column(usize::from(layout.journal_amount)).map(|column| column.kind),
            Some(ColumnKind::Money)
        );
    }
    assert_eq!(SAE.column(169).map(|column| column.fi_equivalent), Some("amount"));
    assert_eq!(SAE.column(20).map(|column| column.name), Some("Report Key"));
    assert_eq!(PRAE.column(2).map(|column| column.name), Some("Request Key"));
    assert_eq!(
        PRAE.header.iter().map(|column| column.name).collect::<Vec<_>>(),
        ["Extract", "BatchID", "BatchDate", "RecordCount", "JournalAmountTotal"]
    );
}

/// Pieces that make interesting files: markers, delimiters, quotes, line breaks, numbers, invalid UTF-8.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"EXTRACT,2024-03-01,1,1,1\n".to_vec()),
        Just(b"Extract|1|2024/03/01|1|1\n".to_vec()),
        Just(b"DETAIL".to_vec()),
        Just(b"Detail".to_vec()),
        Just(b",".to_vec()),
        Just(b"|".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(",".repeat(168).into_bytes()),
        Just(b"-12.5".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        Just(b"\xff".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ]
}

/// Reads a file every way the module offers; only errors may come out.
fn exercise(bytes: &[u8]) {
    for delimiter in [Delimiter::Comma, Delimiter::Pipe] {
        let _ = read_all(bytes, delimiter);
        if let Ok(reader) = ExtractReader::new(BufReader::with_capacity(3, bytes), options(delimiter)) {
            let _ = Documents::new(reader).count();
        }
    }
}

proptest! {
    #[test]
    fn extract_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn extract_arbitrary_token_files_never_panic(tokens in proptest::collection::vec(token(), 0..64)) {
        exercise(&tokens.concat());
    }
}
