#!/usr/bin/env python3
"""Writes the repetitive cases of the bad-input corpus (tests/corpus/*/).

Run from anywhere: `python3 tests/corpus/generate.py`. It rewrites only the
files whose names start with `g-`; hand-written cases have other names. The
output is committed: the corpus is data and is reviewed as such. Large
inputs (10 MB strings, bombs) are not written here; a case says
`# generated: <recipe>` and the test builds the body (tests/integration/tests/corpus.rs).

Every case file: `# key: value` header lines (`tries` says what it tries,
each `expect` is text the error must contain), one empty line, then the raw
input bytes.
"""

import copy
import json
import os
import pathlib
import zlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "fi-examples"

COMPANY = "0ffa9ce0-f00b-408a-8344-8eaad502b0d7"  # has a connection in the test world
STRANGER = "8568a4cd-8ffc-49d6-9417-be2d69aa075f"  # has none

written = {}


def case(kind, name, tries, body=b"", expect=(), **directives):
    assert name not in written.setdefault(kind, set()), f"{kind}/{name} twice"
    written[kind].add(name)
    lines = [f"# tries: {tries}"]
    lines += [f"# expect: {e}" for e in expect]
    for key, value in directives.items():
        lines.append(f"# {key.replace('_', '-')}: {value}")
    # Header lines stay printable on one line.
    lines = ["".join(c if c.isprintable() else f"\\u{{{ord(c):04x}}}" for c in line) for line in lines]
    if isinstance(body, str):
        body = body.encode()
    path = HERE / kind / f"g-{name}.case"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n\n").encode() + body)


def clean(kind):
    for p in (HERE / kind).glob("g-*.case"):
        p.unlink()


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- webhooks

def notification(**facts_override):
    facts = {
        "currentApprovalStatus": "A_APPR",
        "companyId": COMPANY,
        "reportId": "1B5A6194DFB047DAB0BD",
        "stepCode": "EXRTREADY",
        "currentPaymentStatus": "P_PROC",
        "previousApprovalStatus": "A_ACCO",
        "actingUserId": None,
        "userId": "13fa626b-9563-4013-886c-9fd730545277",
        "previousPaymentStatus": "P_NOTP",
    }
    facts.update(facts_override)
    return {
        "id": "5f3d6c3a-1c4e-4f0e-9a57-8a3c6d1e2f40",
        "correlationId": "0d1c2b3a-4f5e-4d6c-8b7a-9e8f7a6b5c4d",
        "eventType": "statusChanged",
        "topic": "public.concur.expense.report",
        "timeStamp": "2026-11-23T10:00:00Z",
        "subtopic": COMPANY,
        "facts": facts,
    }


def webhooks():
    kind = "webhook"
    clean(kind)
    good = dumps(notification())
    unsigned = "the Concur-Signature header is missing"
    forged = "does not verify over this body"

    # Signatures: a genuine approval, never signed right.
    for name, signature, tries in [
        ("sig-missing", "none", "no Concur-Signature header at all"),
        ("sig-empty", "empty", "an empty Concur-Signature header"),
        ("sig-not-base64", "literal:%%%not base64%%%", "a signature that is not base64"),
        ("sig-short", "literal:AAECAwQFBgcICQ==", "a 10-byte signature (wrong length)"),
        ("sig-zeros", "zeros", "256 zero bytes (right length, no signature)"),
        ("sig-other-key", "other-key", "signed with another RSA key (a forger's)"),
        ("sig-other-body", "other-body", "a genuine signature of another body (replayed header)"),
        ("sig-whitespace", "literal:   ", "a signature of blanks"),
        ("sig-urlsafe", "urlsafe", "the genuine signature in the URL-safe base64 alphabet"),
        ("sig-truncated", "truncated", "the genuine signature with its last 8 characters cut"),
        ("sig-doubled", "doubled", "the genuine signature twice, concatenated"),
        ("sig-prefixed", "prefixed", "`sha256=` before the genuine signature (another vendor's format)"),
        ("sig-control-char", "control", "a signature header with a control character"),
        ("sig-non-ascii", "non-ascii", "a signature header with non-ASCII bytes"),
        ("sig-huge", "huge", "a 60 KB signature header"),
    ]:
        expect = [unsigned] if signature == "none" else [forged]
        case(kind, name, tries, good, expect, signature=signature, status=401, audit="none")

    # Bodies altered after signing, or unsigned hostile bodies.
    altered = good.replace("1B5A6194DFB047DAB0BD", "666")
    case(kind, "sig-altered-report", "a captured body with another report id, old signature", altered,
         [forged], signature="signature-of:" + good, status=401, audit="none")
    case(kind, "sig-altered-whitespace", "the signed body with one added blank", good + " ", [forged],
         signature="signature-of:" + good, status=401, audit="none")
    for name, body, tries in [
        ("unsigned-truncated", good[:40], "truncated JSON without signature"),
        ("unsigned-deep", "[" * 5000, "deep nesting without signature"),
        ("unsigned-stranger", dumps(notification(companyId=STRANGER)), "an unknown company, unsigned"),
        ("unsigned-empty", "", "an empty body without signature"),
    ]:
        case(kind, name, tries, body, [unsigned], signature="none", status=401, audit="none")
    case(kind, "unsigned-wrong-content-type", "text/plain and no signature", good, [unsigned],
         signature="none", content_type="text/plain", status=401, audit="none")
    case(kind, "forged-form-urlencoded", "a form-encoded body with a forged signature", "id=1&topic=x",
         [forged], signature="other-key", content_type="application/x-www-form-urlencoded", status=401,
         audit="none")
    case(kind, "forged-xml", "an XML body with a forged signature", "<event><id>1</id></event>", [forged],
         signature="other-key", content_type="application/xml", status=401, audit="none")

    # Oversized: refused before the signature is even looked at.
    case(kind, "oversized-signed", "a signed body of 64 KiB + 1", b"", ["larger than 64 KiB"],
         generated="oversized-notification", signature="valid", status=413, audit="none")
    case(kind, "oversized-unsigned", "an unsigned body of 1 MiB", b"", ["larger than 64 KiB"],
         generated="one-mib-of-x", signature="none", status=413, audit="none")
    case(kind, "oversized-base64", "a base64-encoded body that decodes past 64 KiB", b"",
         ["larger than 64 KiB"], generated="oversized-notification", encoding="base64", signature="valid",
         status=413, audit="none")

    # Transport encodings.
    case(kind, "broken-base64", "isBase64Encoded with a body that is not base64", "!!!not base64!!!",
         ["base64"], encoding="as-is-base64", signature="none", status=400, audit="none")
    case(kind, "non-utf8-signed", "a signed body of Latin-1 bytes (not UTF-8)",
         good.replace("statusChanged", "statusChang\u00e9").encode("latin-1"), ["not valid JSON"],
         encoding="base64", signature="valid", status=400, audit="unrouted#malformed")
    case(kind, "utf16-signed", "a signed body in UTF-16 with BOM", good.encode("utf-16"), ["not valid JSON"],
         encoding="base64", signature="valid", status=400, audit="unrouted#malformed")
    case(kind, "bom-signed", "a signed body with a UTF-8 byte-order mark", "\ufeff" + good, ["not valid JSON"],
         signature="valid", status=400, audit="unrouted#malformed")

    # Signed but not JSON / not a notification: 400, one audit record under unrouted#malformed.
    malformed = {
        "truncated-half": (good[: len(good) // 2], "not valid JSON", "JSON cut in half"),
        "truncated-one-byte": (good[:-1], "not valid JSON", "JSON missing its last brace"),
        "empty-body": ("", "not valid JSON", "an empty signed body"),
        "only-blanks": ("   \n\t ", "not valid JSON", "blanks only"),
        "trailing-garbage": (good + "xyz", "not valid JSON", "garbage after the object"),
        "two-objects": (good + good, "not valid JSON", "two objects back to back"),
        "single-quotes": (good.replace('"', "'"), "not valid JSON", "single-quoted JSON"),
        "comments": ("// hi\n" + good, "not valid JSON", "a JavaScript comment"),
        "nan-literal": ('{"id": NaN}', "not valid JSON", "a NaN literal"),
        "deep-array": ("[" * 200 + "]" * 200, "recursion limit", "200 nested arrays"),
        "deep-object": ('{"a":' * 200 + "1" + "}" * 200, "recursion limit", "200 nested objects"),
        "deep-facts": (good.replace('"facts":', '"facts":' + '{"x":' * 150 + "1" + "}" * 150 + ',"f":'),
                       "recursion limit", "150-deep nesting inside the facts"),
        "null": ("null", "not null", "the JSON literal null"),
        "true": ("true", "not a boolean", "the JSON literal true"),
        "number": ("42", "not a number", "a bare number"),
        "huge-number": ("1" + "0" * 400, "not a number", "a 400-digit number"),
        "string": ('"statusChanged"', "not a string", "a bare string"),
        "empty-array": ("[]", "empty array", "an empty array of notifications"),
        "array-of-number": ("[1]", "notification 0 is malformed", "an array holding a number"),
        "array-second-bad": ("[" + good + ",\"x\"]", "notification 1 is malformed", "a good and a bad one"),
        "id-number": (good.replace('"id":"5f3d6c3a-1c4e-4f0e-9a57-8a3c6d1e2f40"', '"id":12'),
                      "notification 0 is malformed", "the event id as a number"),
        "topic-object": (good.replace('"topic":"public.concur.expense.report"', '"topic":{"a":1}'),
                         "notification 0 is malformed", "the topic as an object"),
        "event-type-array": (good.replace('"eventType":"statusChanged"', '"eventType":["statusChanged"]'),
                             "notification 0 is malformed", "the event type as an array"),
        "subtopic-number": (good.replace(f'"subtopic":"{COMPANY}"', '"subtopic":1e400'),
                            "notification 0 is malformed", "the subtopic as 1e400"),
    }
    for name, (body, expect, tries) in malformed.items():
        case(kind, f"malformed-{name}", f"signed: {tries}", body, [expect], signature="valid", status=400,
             audit="unrouted#malformed")

    # Signed notifications whose facts cannot be used: 400, audited.
    def facts_case(name, tries, expect, audit, body_value):
        case(kind, f"facts-{name}", f"signed: {tries}", dumps(body_value), expect, signature="valid",
             status=400, audit=audit)

    n = notification()
    del n["facts"]["reportId"]
    facts_case("no-report", "approval without facts.reportId", ["facts.reportId"], f"unrouted#company-{COMPANY}", n)
    n = notification()
    del n["facts"]["companyId"]
    del n["subtopic"]
    facts_case("no-company", "no company anywhere", ["facts.companyId"], "unrouted#malformed", n)
    for name, value, tries in [
        ("report-dash", "R-1", "a report id with a dash"),
        ("report-empty", "", "an empty report id"),
        ("report-long", "A" * 33, "a 33-character report id"),
        ("report-unicode", "R\u0661\u0662", "Arabic-Indic digits in the report id"),
        ("report-slash", "../../etc/passwd", "a path in the report id"),
        ("report-sql", "1' OR '1'='1", "SQL in the report id"),
        ("report-newline", "R1\nX-Injected: 1", "a line break in the report id"),
        ("report-nul", "R1\u0000", "a NUL in the report id"),
        ("report-blank", "   ", "blanks as the report id"),
    ]:
        facts_case(name, tries, ["facts.reportId"], f"unrouted#company-{COMPANY}", notification(reportId=value))
    for name, value, tries in [
        ("company-not-uuid", "acme", "a company that is not a UUID"),
        ("company-empty", "", "an empty company"),
        ("company-long", COMPANY * 40, "a company id of 1.4 KB"),
        ("company-nul", COMPANY + "\u0000", "a UUID followed by NUL"),
    ]:
        n = notification(companyId=value)
        n["subtopic"] = value
        facts_case(name, tries, ["facts.companyId", "not a UUID"], "unrouted#malformed", n)
    for name, facts, tries, expect in [
        ("company-bool", {"companyId": True}, "the company as a boolean", "facts are malformed"),
    ]:
        facts_case(name, tries, [expect], f"unrouted#company-{COMPANY}", notification(**facts))
    for name, facts, tries, expect in [
        ("report-number", {"reportId": 12345}, "the report id as a number", "facts are malformed"),
        ("report-array", {"reportId": ["R1"]}, "the report id as an array", "facts are malformed"),
        ("status-object", {"currentApprovalStatus": {"code": "A_APPR"}}, "a status as an object",
         "facts are malformed"),
        ("status-huge-number", {"currentPaymentStatus": 1e300}, "a status as a number", "facts are malformed"),
    ]:
        facts_case(name, tries, [expect, "expected a string"], f"unrouted#company-{COMPANY}", notification(**facts))
    for name, facts in [("array", ["A_APPR", COMPANY, "R1"]), ("string", "A_APPR"), ("number", 12)]:
        n = notification()
        n["facts"] = facts
        facts_case(f"facts-{name}", f"facts as {name}", ["facts are malformed: they must be a JSON object"],
                   f"unrouted#company-{COMPANY}", n)

    # Duplicate keys: serde_json keeps the last one; either way the company must resolve or be refused.
    dup = good.replace('"reportId":"1B5A6194DFB047DAB0BD"', '"reportId":"1B5A6194DFB047DAB0BD","reportId":"R-2"')
    # JSON objects keep the last of duplicate keys (serde_json, like most readers): the later value is judged.
    case(kind, "duplicate-report-id", "signed: reportId twice, the second one invalid", dup,
         ["facts.reportId", "`R-2` is invalid"], signature="valid", status=400, audit=f"unrouted#company-{COMPANY}")
    dup = good.replace('"topic":"public.concur.expense.report"',
                       '"topic":"public.concur.expense.report","topic":"x"')
    case(kind, "duplicate-topic", "signed: topic twice, the later one foreign", dup,
         ["ignored: topic `x` is not one the connector acts on"], signature="valid", status=200, audit="none")

    # Unknown company: 404 and an unrouted record naming it.
    case(kind, "unknown-company", "signed approval for a company without a connection",
         dumps(notification(companyId=STRANGER)), ["no connection is set up for Concur company", STRANGER],
         signature="valid", status=404, audit=f"unrouted#company-{STRANGER}")
    n = notification(companyId=STRANGER.upper())
    case(kind, "unknown-company-upper", "an unknown company in upper case", dumps(n),
         ["no connection is set up for Concur company"], signature="valid", status=404,
         audit=f"unrouted#company-{STRANGER}")
    case(kind, "unknown-company-digest-salt", "an unknown company signed with the digest-length salt",
         dumps(notification(companyId=STRANGER)), ["no connection is set up"], signature="digest-salt",
         status=404, audit=f"unrouted#company-{STRANGER}")

    # Ignored: 200, nothing written (not an approval, not our topic).
    def ignored(name, tries, value, expect):
        case(kind, f"ignored-{name}", f"signed: {tries}", dumps(value), ["ignored", expect], signature="valid",
             status=200, audit="none")

    for name, topic in [
        ("topic-unknown", "public.concur.travel.trip"),
        ("topic-empty", ""),
        ("topic-long", "x" * 5000),
        ("topic-control", "public.concur.expense.report\u0000\r\nX: 1"),
    ]:
        n = notification()
        n["topic"] = topic
        ignored(name, f"topic `{topic[:40]}`", n, "is not one the connector acts on")
    n = notification()
    del n["topic"]
    ignored("topic-missing", "no topic", n, "names no topic")
    n = notification()
    n["eventType"] = "created"
    ignored("event-type-created", "event type `created`", n, "is not acted on")
    n = notification()
    del n["eventType"]
    ignored("event-type-missing", "no event type", n, "is not acted on")
    for name, facts in [
        ("sent-back", {"currentApprovalStatus": "A_RESU", "currentPaymentStatus": "P_NOTP"}),
        ("paid", {"currentPaymentStatus": "P_PAID"}),
        ("lowercase-status", {"currentApprovalStatus": "a_appr"}),
        ("status-missing", {"currentApprovalStatus": None}),
        ("status-padded", {"currentApprovalStatus": " A_APPR "}),
    ]:
        ignored(name, f"status {facts}", notification(**facts), "not approved and ready for payment")
    n = notification()
    n["topic"] = "public.concur.invoice.paymentrequest"
    ignored("payment-request-no-id", "the undocumented invoice topic without a request id", n,
            "without a usable company id and request id")


# ---------------------------------------------------------------- FI documents

def strip_nulls(v):
    if isinstance(v, dict):
        return {k: strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip_nulls(x) for x in v]
    return v


def example(name):
    envelope = json.loads((FIXTURES / name).read_text())
    return strip_nulls(envelope["fIDocuments"][0]["document"])


def set_path(doc, path, value):
    """Sets (or with value=DELETE, removes) `a.b[0].c` in a copy of doc."""
    doc = copy.deepcopy(doc)
    parts = []
    for piece in path.split("."):
        while "[" in piece:
            head, rest = piece.split("[", 1)
            if head:
                parts.append(head)
            index, piece = rest.split("]", 1)
            parts.append(int(index))
        if piece:
            parts.append(piece)
    target = doc
    for p in parts[:-1]:
        target = target[p]
    if value is DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return doc


DELETE = object()

EXPENSE = "FI-API-ReportID-F071FADEA6B142DD884A-Example-2.1.json"
CASH_ADVANCE = "FI-API-CashAdvanceID-E2A086D30B88AE4683BC48ADE47B8116-Example-5.1.1.json"

INVOICE = {
    "requestHeader": {"requestId": "9B1D30723CBF4F86A574", "requestTitle": "Office supplies",
                      "currencyAlphaCode": "USD", "requestTotal": 50, "ledgerCode": "DEFAULT", "revisionNumber": "1"},
    "ownerEmployee": {"employeeId": "49038128"},
    "vendor": {"vendorCode": "V100", "vendorRemitToAddressCode": "R1"},
    "lineItem": [{"lineItemSequenceOrder": 1, "lineItemDescription": "Paper", "expenseTypeCode": "2000",
                  "allocation": [{"allocationKey": 7, "allocationCustom1Code": "CC1",
                                  "journal": {"accountCode": "37", "amountNet": 50, "amountShipping": 0,
                                              "amountGross": 50, "tax": []}}]}],
}

# Hostile amount values: (name, JSON text, what it tries). Each must be refused as "an amount as Concur sends it".
HOSTILE_AMOUNTS = [
    ("nan-string", '"NaN"', "NaN as a string"),
    ("infinity-string", '"Infinity"', "Infinity as a string"),
    ("1e400", "1e400", "1e400, beyond every float"),
    ("1e400-string", '"1e400"', "1e400 as a string"),
    ("nine-decimals", "8.400000001", "nine decimals"),
    ("nine-decimals-string", '"8.400000001"', "nine decimals as a string"),
    ("blank-padded", '" 8.4 "', "blanks around the amount"),
    ("leading-plus", '"+8.4"', "a leading plus"),
    ("comma-decimal", '"8,4"', "a decimal comma"),
    ("thousands", '"1,008.40"', "a thousands separator"),
    ("currency-sign", '"€8.40"', "a currency sign"),
    ("hex", '"0x10"', "hexadecimal"),
    ("empty-string", '""', "an empty string"),
    ("bool", "true", "a boolean"),
    ("array", "[8.4]", "an array"),
    ("object", '{"value": 8.4}', "an object"),
    ("huge-integer", "1" + "0" * 40, "a 41-digit integer"),
    ("negative-zero-exp", '"-0e-99"', "an exponent of -99"),
    ("double-dot", '"8..4"', "two dots"),
    ("trailing-dot", '"8."', "a trailing dot"),
    ("fullwidth", '"８.４"', "full-width digits"),
    ("nbsp", '"8.4\u00a0"', "a trailing no-break space"),
]


def fi_documents():
    kind = "fi-document"
    clean(kind)
    expense = example(EXPENSE)
    advance = example(CASH_ADVANCE)
    amount_error = "should be an amount as Concur sends it"

    def fi(name, tries, doc_type, document, expect, **extra):
        body = document if isinstance(document, (str, bytes)) else json.dumps(document, indent=1,
                                                                              ensure_ascii=False)
        case(kind, name, tries, body, expect, type=doc_type, **extra)

    # Every amount field of an expense report, each with every hostile value.
    expense_amounts = [
        ("report.totalApprovedAmount", "total"),
        ("expenseEntry[0].entryApprovedAmount", "entry"),
        ("expenseEntry[0].allocation[0].journal[0].amountGross", "gross"),
        ("expenseEntry[0].allocation[0].journal[0].amountNetOfTax", "net"),
        ("expenseEntry[0].allocation[0].tax[0].amountTax", "tax"),
        ("expenseEntry[0].allocation[0].tax[0].amountReclaim", "reclaim"),
    ]
    for path, short in expense_amounts:
        for amount, text, tries in HOSTILE_AMOUNTS:
            doc = set_path(expense, path, "__AMOUNT__")
            body = json.dumps(doc, indent=1, ensure_ascii=False).replace('"__AMOUNT__"', text)
            fi(f"expense-{short}-{amount}", f"{path} as {tries}", "expense", body, [f"document.{path}", amount_error])
    for path, short in [("cashAdvanceData.requestAmount", "request"), ("journalData[0].amount", "journal"),
                        ("cashAdvanceData.exchangeRate", "rate")]:
        for amount, text, tries in HOSTILE_AMOUNTS[:8]:
            doc = set_path(advance, path, "__AMOUNT__")
            if short == "rate":  # the rate is read only when the currencies differ
                doc = set_path(doc, "cashAdvanceData.employeeCurrencyAlphaCode", "EUR")
            body = json.dumps(doc, indent=1, ensure_ascii=False).replace('"__AMOUNT__"', text)
            fi(f"advance-{short}-{amount}", f"{path} as {tries}", "cash_advance", body,
               [f"document.{path}", amount_error])
    for path, short in [("requestHeader.requestTotal", "total"), ("lineItem[0].allocation[0].journal.amountGross",
                                                                 "gross")]:
        for amount, text, tries in HOSTILE_AMOUNTS[:6]:
            doc = set_path(INVOICE, path, "__AMOUNT__")
            body = json.dumps(doc, indent=1, ensure_ascii=False).replace('"__AMOUNT__"', text)
            fi(f"invoice-{short}-{amount}", f"{path} as {tries}", "invoice", body, [f"document.{path}", amount_error])

    # Missing parts.
    for path, expect, short in [
        ("report", "document.report is missing", "report"),
        ("report.reportId", "document.report.reportId is missing", "report-id"),
        ("report.employeeCurrencyAlphaCode", "document.report.employeeCurrencyAlphaCode is missing", "currency"),
        ("expenseEntry", "document.report.totalApprovedAmount: the report total 10 differs", "entries"),
        ("expenseEntry[0].allocation", "document.expenseEntry[0].allocation", "allocations"),
        ("expenseEntry[0].allocation[0].journal", "document.expenseEntry[0].entryApprovedAmount", "journal-rows"),
        ("expenseEntry[0].allocation[0].journal[0].amountGross",
         "document.expenseEntry[0].allocation[0].journal[0].amountGross is missing", "gross"),
        ("expenseEntry[0].allocation[0].journal[0].journalPayee",
         "document.expenseEntry[0].allocation[0].journal[0].journalPayee", "payee"),
        ("expenseEntry[0].allocation[0].tax", "taxGuid", "tax-rows"),
    ]:
        fi(f"expense-missing-{short}", f"without {path}", "expense", set_path(expense, path, DELETE), [expect])
    fi("expense-empty-journal-rows", "journal rows as an empty array", "expense",
       set_path(expense, "expenseEntry[0].allocation[0].journal", []), ["document.expenseEntry[0]"])
    for path, short, expect in [("cashAdvanceData", "data", "document.cashAdvanceData"),
                                ("journalData", "journal", "document.cashAdvanceData.requestAmount: the advance is 7000"),
                                ("journalData[0].accountCode", "account", "document.journalData[0].accountCode")]:
        fi(f"advance-missing-{short}", f"without {path}", "cash_advance", set_path(advance, path, DELETE), [expect])
    # Read as documented: no debitOrCredit means the sign decides; no advance currency means the posting one.
    fi("advance-missing-drcr", "without debitOrCredit (the sign decides)", "cash_advance",
       set_path(advance, "journalData[0].debitOrCredit", DELETE), [], outcome="ignored")
    fi("advance-missing-currency", "without the advance currency (the posting currency)", "cash_advance",
       set_path(advance, "cashAdvanceData.currencyAlphaCode", DELETE), [], outcome="ignored")
    for value, short in [("US$", "symbol"), ("usdollar", "word"), ("", "empty-is-absent")]:
        if short == "empty-is-absent":
            continue
        fi(f"advance-currency-{short}", f"the advance currency `{value}`", "cash_advance",
           set_path(advance, "cashAdvanceData.currencyAlphaCode", value),
           ["document.cashAdvanceData.currencyAlphaCode", "an ISO 4217 currency code"])
    # The untouched documents each type's `ignored` cases are compared with.
    fi("base-expense", "example 2.1 as Concur sent it (the reference)", "expense", expense, [], outcome="base")
    fi("base-cash-advance", "example 5.1.1 as Concur sent it (the reference)", "cash_advance", advance, [],
       outcome="base")
    fi("base-invoice", "a balanced invoice after FI §8.2 (the reference)", "invoice", INVOICE, [], outcome="base")
    for path, short in [("requestHeader", "header"), ("vendor", "vendor"), ("vendor.vendorCode", "vendor-code"),
                        ("lineItem", "lines"), ("lineItem[0].allocation", "allocation")]:
        fi(f"invoice-missing-{short}", f"without {path}", "invoice", set_path(INVOICE, path, DELETE),
           [f"document.{path}"])

    # Unbalanced or contradictory.
    fi("expense-unbalanced-total", "totalApprovedAmount 11 for entries of 10", "expense",
       set_path(expense, "report.totalApprovedAmount", 11), ["document.report.totalApprovedAmount"])
    fi("expense-unbalanced-entry", "entryApprovedAmount 9 for a journal of 10", "expense",
       set_path(expense, "expenseEntry[0].entryApprovedAmount", 9), ["document.expenseEntry[0]"])
    fi("expense-net-plus-tax", "net 8.5 + tax 1.6 ≠ gross 10", "expense",
       set_path(expense, "expenseEntry[0].allocation[0].journal[0].amountNetOfTax", 8.5),
       ["document.expenseEntry[0].allocation[0].journal[0]"])
    fi("expense-reclaim-over-tax", "reclaim 2 of a tax of 1.6", "expense",
       set_path(expense, "expenseEntry[0].allocation[0].tax[0].amountReclaim", 2),
       ["document.expenseEntry[0].allocation[0].tax[0]"])
    fi("expense-unknown-tax-guid", "a journal row naming a tax row that does not exist", "expense",
       set_path(expense, "expenseEntry[0].allocation[0].journal[0].taxGuid", ["NOPE"]),
       ["document.expenseEntry[0].allocation[0].journal[0].taxGuid"])
    fi("advance-unbalanced", "journal 6999 for an advance of 7000", "cash_advance",
       set_path(advance, "journalData[0].amount", 6999), ["document"])
    fi("advance-drcr-xx", "debitOrCredit XX", "cash_advance", set_path(advance, "journalData[0].debitOrCredit", "XX"),
       ["document.journalData[0].debitOrCredit"])
    fi("invoice-total-mismatch", "requestTotal 60 for lines of 50", "invoice",
       set_path(INVOICE, "requestHeader.requestTotal", 60), ["document.requestHeader.requestTotal"])
    zero = expense
    for path in ["report.totalApprovedAmount", "expenseEntry[0].entryApprovedAmount",
                 "expenseEntry[0].allocation[0].journal[0].amountGross",
                 "expenseEntry[0].allocation[0].journal[0].amountNetOfTax",
                 "expenseEntry[0].allocation[0].tax[0].amountTax", "expenseEntry[0].allocation[0].tax[0].amountReclaim"]:
        zero = set_path(zero, path, 0)
    fi("expense-all-zero", "every amount zero", "expense", zero, ["carries no amount"])

    # Wrong types.
    for path, value, short, expect in [
        ("expenseEntry", {"0": {}}, "entries-object", "should be a JSON array"),
        ("expenseEntry[0]", "entry", "entry-string", "should be a JSON object"),
        ("expenseEntry[0].allocation[0].tax", {"amountTax": 1.6}, "tax-object", "document.expenseEntry[0]"),
        ("expenseEntry[0].allocation[0].journal[0].journalAccountCode", {"code": 37}, "account-object",
         "should be a string"),
        ("expenseEntry[0].allocation[0].journal[0].journalAccountCode", True, "account-bool", "should be a string"),
        ("report", [1, 2], "report-array", "should be a JSON object"),
        ("report.reportId", ["F071"], "report-id-array", "should be a string"),
        ("report.employeeCurrencyAlphaCode", "EURO", "currency-four-letters", "an ISO 4217 currency code"),
        ("report.employeeCurrencyAlphaCode", "E1R", "currency-digit", "an ISO 4217 currency code"),
        ("report.employeeCurrencyAlphaCode", 978, "currency-number", "an ISO 4217 currency code"),
        ("report.employeeCurrencyAlphaCode", "XYZ", "currency-unknown", "XYZ"),
    ]:
        fi(f"expense-type-{short}", f"{path} = {json.dumps(value)[:40]}", "expense",
           set_path(expense, path, value), [expect])
    fi("advance-journal-object", "journalData as an object", "cash_advance",
       set_path(advance, "journalData", {"amount": 7000}), ["document.journalData", "should be a JSON array"])
    fi("invoice-lines-string", "lineItem as a string", "invoice", set_path(INVOICE, "lineItem", "x"),
       ["document.lineItem", "should be a JSON array"])

    # Not a document at all.
    for name, text, expect in [
        ("not-json", "{\"report\": ", "should be JSON"),
        ("null", "null", "should be a JSON object"),
        ("array", "[]", "should be a JSON object"),
        ("string", '"report"', "should be a JSON object"),
        ("number", "12", "should be a JSON object"),
        ("empty-object", "{}", "document.report is missing"),
        ("trailing-garbage", json.dumps(expense) + "}", "should be JSON"),
        ("deep-nesting", '{"report":' + "[" * 10000 + "]" * 10000 + "}", "should be JSON"),
        ("duplicate-report", '{"report": {}, "report": 5}', "should be a JSON object"),
    ]:
        fi(f"garbage-{name}", f"a document that is {name}", "expense", text, [expect])
    fi("wrong-type-advance-as-expense", "a cash advance sent as an expense report", "expense", advance,
       ["document.report is missing"])
    fi("wrong-type-expense-as-invoice", "an expense report sent as an invoice", "invoice", expense,
       ["document.requestHeader is missing"])

    # Generated in the test: too large to commit.
    fi("huge-report-name", "a 10 MB report name (posted with its description cut)", "expense", "", [],
       generated="ten-mb-report-name", outcome="bounded")
    fi("huge-account-code", "a 10 MB account code", "expense", "", ["Concur account code"],
       generated="ten-mb-account-code")
    fi("huge-amount-digits", "an amount of 10 MB of digits", "expense", "", [amount_error],
       generated="ten-mb-amount")
    fi("deep-nesting-100k", "100 000 nested arrays in the entries", "expense", "", ["should be JSON"],
       generated="deep-array-100k")

    # Dates: FI documents' dates are not read (the document date is the day of posting), so a
    # hostile date changes nothing: the plan must equal the untouched example's.
    for value, short in [
        ("2019-13-45", "month-13"), ("2019-06-05", "date-only"), ("05/06/2019", "us-slashes"),
        ("1559772904353", "epoch-millis-string"), ("", "empty"), ("yesterday", "word"),
        ("0000-00-00T00:00:00Z", "zeros"), ("9999-12-31T23:59:60.999999999+99:99", "overflow"),
        ("2019-06-05T22:35:04.353Z" * 1000, "repeated-24kb"), ("\u0000", "nul"),
    ]:
        fi(f"expense-date-{short}", f"reportSubmitDate `{value[:30]}` (dates are not read)", "expense",
           set_path(expense, "report.reportSubmitDate", value), [], outcome="ignored")
    for value, short in [(1559772904353, "epoch-number"), ({"y": 2019}, "object"), ([2019, 6, 5], "array")]:
        fi(f"expense-date-{short}", f"entryDate as {short} (dates are not read)", "expense",
           set_path(expense, "expenseEntry[0].entryDate", value), [], outcome="ignored")


# ---------------------------------------------------------------- ION messages

ACK = """<AcknowledgeSourceSystemJournalEntry xmlns="http://schema.infor.com/InforOAGIS/2" releaseID="9.2">
  <ApplicationArea><Sender><LogicalID>lid://infor.erp.cloudsuite</LogicalID></Sender>
    <CreationDateTime>2026-11-23T10:00:00Z</CreationDateTime><BODID>infor-nid:ACME_TST:1000::ack:1?SourceSystemJournalEntry&amp;verb=Acknowledge</BODID></ApplicationArea>
  <DataArea>
    <Acknowledge><TenantID>ACME_TST</TenantID>
      <OriginalApplicationArea><BODID>infor-nid:ACME_TST:1000::{id}:1?SourceSystemJournalEntry&amp;verb=Process</BODID></OriginalApplicationArea>
      <ResponseCriteria><ResponseExpression actionCode="Accepted"/></ResponseCriteria></Acknowledge>
    <SourceSystemJournalEntry><JournalEntryHeader><JournalID accountingEntity="1000" variationID="1">{id}</JournalID><DisplayID>JE-000009</DisplayID></JournalEntryHeader></SourceSystemJournalEntry>
  </DataArea>
</AcknowledgeSourceSystemJournalEntry>"""

KNOWN = "0C45F960C3064ED88C39"


def ion_messages():
    kind = "ion"
    clean(kind)
    ack = ACK.format(id=KNOWN)
    cannot_read = "the verdict cannot be read"

    def ims(name, tries, xml, expect, status=400, audit="failed", **extra):
        case(kind, name, tries, xml, expect, form="ims", status=status, audit=audit, **extra)

    def raw(name, tries, body, expect, status=400, audit="failed", **extra):
        case(kind, name, tries, body, expect, form="raw", status=status, audit=audit, **extra)

    # Authentication and routing: 401/404, nothing recorded.
    for name, token, tries in [
        ("token-missing", "none", "no Authorization header"),
        ("token-wrong", "wrong", "a wrong bearer token"),
        ("token-empty", "empty", "`Bearer ` and nothing"),
        ("token-basic", "basic", "Basic credentials instead of a bearer token"),
        ("token-prefix", "prefix", "the right token with one character cut"),
        ("token-longer", "longer", "the right token plus one character"),
        ("token-other-connection", "other-connection", "the right token for a connection that does not exist"),
        ("token-non-ascii", "non-ascii", "a bearer token with non-ASCII bytes"),
    ]:
        ims(name, tries, ack, ["missing or wrong bearer token"], status=401, audit="none", token=token)
    for name, path, tries in [
        ("path-no-connection", "/ion//v3/multipartMessage", "an empty connection id"),
        ("path-bad-connection", "/ion/ACME INBOX/v3/multipartMessage", "a connection id with a blank"),
        ("path-traversal", "/ion/../../v3/multipartMessage", "a path traversal as connection id"),
    ]:
        ims(name, tries, ack, ["missing or wrong bearer token"], status=401, audit="none", path=path)
    ims("path-unknown-operation", "an IMS operation that does not exist", ack, ["unknown IMS operation"],
        status=404, audit="none", path="/ion/{connection}/v9/else")
    ims("path-get-message", "GET on the message endpoint", ack, ["unknown IMS operation"], status=404,
        audit="none", method="GET")
    ims("path-outside", "a path outside /ion/", ack, ["unknown path"], status=404, audit="none",
        path="/concur/events")

    # Multipart framing.
    good_params = '{"documentName":"Acknowledge.SourceSystemJournalEntry","messageId":"m1","encoding":"NONE"}'

    def part(name, content, filename="x"):
        return (f'--B\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n{content}\r\n")

    whole = part("ParameterRequest", good_params) + part("MessagePayload", ack) + "--B--\r\n"
    mp = "multipart/form-data; boundary=B"
    need_parts = "the message needs the parts ParameterRequest and MessagePayload"
    raw("multipart-no-content-type", "no Content-Type", whole, ["multipart/form-data with a boundary"],
        content_type="")
    raw("multipart-json-content-type", "application/json", whole, ["multipart/form-data with a boundary"],
        content_type="application/json")
    raw("multipart-no-boundary", "multipart without boundary parameter", whole,
        ["multipart/form-data with a boundary"], content_type="multipart/form-data")
    raw("multipart-wrong-boundary", "a boundary that does not occur in the body", whole,
        ["multipart body is malformed"], content_type="multipart/form-data; boundary=NOPE")
    raw("multipart-empty-body", "an empty body", "", ["multipart body is malformed"], content_type=mp)
    raw("multipart-no-closing", "no closing boundary", whole[: -len("--B--\r\n")],
        ["part MessagePayload cannot be read", "incomplete data"], content_type=mp)
    raw("multipart-truncated", "the body cut in the middle of the payload", whole[: len(whole) // 2],
        ["part MessagePayload cannot be read", "incomplete data"], content_type=mp)
    raw("multipart-only-parameters", "ParameterRequest without MessagePayload",
        part("ParameterRequest", good_params) + "--B--\r\n", [need_parts], content_type=mp)
    raw("multipart-only-payload", "MessagePayload without ParameterRequest",
        part("MessagePayload", ack) + "--B--\r\n", [need_parts], content_type=mp)
    raw("multipart-renamed-parts", "parts named in lower case",
        part("parameterrequest", good_params) + part("messagepayload", ack) + "--B--\r\n", [need_parts],
        content_type=mp)
    raw("multipart-no-disposition", "parts without Content-Disposition",
        "--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--\r\n", [need_parts], content_type=mp)
    raw("multipart-boundary-200", "a 200-character boundary that is absent", whole,
        ["multipart body is malformed"], content_type="multipart/form-data; boundary=" + "b" * 200)
    raw("multipart-crlf-lf", "LF line ends instead of CRLF", whole.replace("\r\n", "\n"),
        ["multipart body is malformed"], content_type=mp)

    # ParameterRequest.
    def with_params(params, payload=ack):
        return part("ParameterRequest", params) + part("MessagePayload", payload) + "--B--\r\n"

    for name, params, expect in [
        ("params-not-json", "documentName=x", "ParameterRequest is not the expected JSON"),
        ("params-array", "[1,2]", "ParameterRequest is not the expected JSON"),
        ("params-encoding-number", '{"encoding": 5}', "ParameterRequest is not the expected JSON"),
        ("params-truncated", good_params[:20], "ParameterRequest is not the expected JSON"),
        ("params-encoding-gzip", '{"encoding": "GZIP"}', "encoding `GZIP` is not NONE or DEFLATE"),
        ("params-encoding-long", '{"encoding": "' + "Z" * 2000 + '"}', "is not NONE or DEFLATE"),
        ("params-deflate-not-deflated", '{"encoding": "DEFLATE"}', "the DEFLATE payload cannot be inflated"),
    ]:
        raw(name, f"ParameterRequest {params[:40]}", with_params(params), [expect], content_type=mp)

    # Payload bytes.
    latin1 = (part("ParameterRequest", good_params) + part("MessagePayload", "@@")).encode()
    raw("payload-latin1", "a payload in Latin-1", latin1.replace(b"@@", b"\xe9t\xe9") + b"--B--\r\n",
        ["the payload is not UTF-8 text"], content_type=mp)
    case(kind, "deflate-bomb", "a DEFLATE payload that inflates past 4 MiB (built in the test)", b"",
         ["inflates to more than"], form="raw", content_type=mp, generated="deflate-bomb", status=400,
         audit="failed")
    case(kind, "deflate-deep-xml", "a deflated XML 50 000 levels deep (built in the test)", b"",
         [cannot_read, "deeper than"], form="raw", content_type=mp, generated="deflate-deep-xml", status=400,
         audit="failed")
    case(kind, "deflate-truncated", "a DEFLATE stream cut in half", b"", ["cannot be inflated"], form="raw",
         content_type=mp, generated="deflate-truncated", status=400, audit="failed")
    case(kind, "oversized", "a body past 1 MiB", b"", ["larger than a verdict"], form="raw", content_type=mp,
         generated="oversized-ion", status=413, audit="none")

    # XML content.
    for name, xml, expect, tries in [
        ("xml-empty", "", cannot_read, "an empty payload"),
        ("xml-not-xml", "{\"accepted\": true}", cannot_read, "JSON instead of XML"),
        ("xml-unclosed", ack[:-40], cannot_read, "an unclosed element"),
        ("xml-mismatched", ack.replace("</DataArea>", "</Data>"), cannot_read, "a mismatched end tag"),
        ("xml-doctype-entities",
         '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
         + ack.replace("JE-000009", "&lol2;"), cannot_read, "a DOCTYPE with entity expansion (billion laughs)"),
        ("xml-external-entity",
         '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
         + ack.replace("JE-000009", "&xxe;"), cannot_read, "an external entity (XXE)"),
        ("xml-undefined-entity", ack.replace("JE-000009", "&nope;"), cannot_read, "an undefined entity"),
        ("xml-deep-100", "<a>" * 100 + "</a>" * 100, "deeper than", "100 levels of nesting"),
        ("xml-wrong-root", "<Foo xmlns=\"http://schema.infor.com/InforOAGIS/2\"/>", cannot_read,
         "an unknown root element"),

        ("xml-no-action-code", ack.replace(' actionCode="Accepted"', ""), cannot_read, "no actionCode"),
        ("xml-action-code-odd", ack.replace('actionCode="Accepted"', 'actionCode="Maybe"'), cannot_read,
         "actionCode Maybe"),
        ("xml-two-roots", ack + ack, cannot_read, "two documents back to back"),
        ("xml-processing-instruction-only", '<?xml version="1.0"?>', cannot_read, "only an XML declaration"),
    ]:
        ims(name, tries, xml, [expect])

    # Read by element names (the token authenticates the sender), so these name the document all
    # the same: the ledger does not know it, 200, audited as skipped, nothing queued.
    for name, xml, tries in [
        ("xml-no-namespace", ack.replace(' xmlns="http://schema.infor.com/InforOAGIS/2"', ""),
         "the BOD without its namespace"),
        ("xml-wrong-namespace", ack.replace("http://schema.infor.com/InforOAGIS/2", "urn:evil"),
         "the BOD in another namespace"),
        ("xml-no-journal-id", ack.replace(f">{KNOWN}</JournalID>", "></JournalID>"),
         "an empty JournalID (the original BODID still names the document)"),
    ]:
        ims(name, tries, xml, ["the ledger does not know"], status=200, audit="skipped")
    # Unknown documents: 200 so ION stops resending, audited as skipped, nothing queued.
    for name, doc_id, tries in [
        ("unknown-document", "AAAAAAAAAAAAAAAAAAAA", "a document the ledger does not know"),
        ("unknown-document-chunk", "AAAAAAAAAAAAAAAAAAAA-2of3", "a chunk of an unknown document"),
        ("foreign-document-id", "INV-2026/000123", "a DocumentID that is not one of ours"),
        ("document-id-long", "A" * 5000, "a 5000-character DocumentID"),
        ("document-id-markup", "&lt;script&gt;alert(1)&lt;/script&gt;", "markup in the DocumentID"),
        ("document-id-zero-parts", KNOWN + "-0of0", "a chunk `-0of0`"),
        ("document-id-huge-parts", KNOWN + "-1of99999999999999999999", "a chunk count past u64"),
    ]:
        ims(name, tries, ACK.format(id=doc_id), ["not one of ours" if "document-id" in name or "foreign" in name
                                                 else "the ledger does not know"], status=200, audit="skipped")


# ---------------------------------------------------------------- .ionapi files

IONAPI = {
    "ti": "ACME_TST", "cn": "ConcurConnector", "dt": "12", "ci": "ACME_TST~q", "cs": "Zk3",
    "iu": "https://mingle-ionapi.inforcloudsuite.com", "pu": "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/",
    "oa": "authorization.oauth2", "ot": "token.oauth2", "or": "revoke_token.oauth2", "ev": "U1",
    "v": "1.0", "saak": "ACME_TST#Mx8", "sask": "Hq0",
}


def ionapi_files():
    kind = "ionapi"
    clean(kind)

    def f(name, tries, value, expect):
        body = value if isinstance(value, (str, bytes)) else json.dumps(value, indent=1)
        case(kind, name, tries, body, expect)

    for key in ["ti", "ci", "cs", "iu", "pu", "ot", "saak", "sask"]:
        v = dict(IONAPI)
        del v[key]
        f(f"missing-{key}", f"without `{key}`", v, [f"`{key}`"])
        v = dict(IONAPI)
        v[key] = ""
        f(f"empty-{key}", f"`{key}` empty", v, [f"`{key}`"])
    for key in ["ti", "cs", "iu"]:
        v = dict(IONAPI)
        v[key] = {"nested": True}
        f(f"object-{key}", f"`{key}` as an object", v, [f"`{key}` must be a non-empty string"])
        v = dict(IONAPI)
        v[key] = [1]
        f(f"array-{key}", f"`{key}` as an array", v, [f"`{key}` must be a non-empty string"])
    for name, body, expect in [
        ("not-json", "ti=ACME_TST", "is not JSON (line 1, column 2)"),
        ("truncated", json.dumps(IONAPI)[:50], "is not JSON (line 1, column 50)"),
        ("array", "[]", "must be a JSON object with the keys"),
        ("null", "null", "must be a JSON object with the keys"),
        ("string", '"ACME_TST"', "must be a JSON object with the keys"),
        ("empty-file", "", "is not JSON (line 1, column 0)"),
        ("deep", "[" * 5000, "is not JSON (line 1, column 128)"),
        ("xml", "<ionapi/>", "is not JSON (line 1, column 1)"),
        ("bom", "\ufeff" + json.dumps(IONAPI), "is not JSON (line 1, column 1)"),
    ]:
        f(f"file-{name}", f"a file that is {name}", body, [expect])
    for name, key, value, expect in [
        ("iu-http", "iu", "http://mingle-ionapi.inforcloudsuite.com", "`iu`"),
        ("iu-not-url", "iu", "not a url", "`iu`"),
        ("iu-private", "iu", "https://10.0.0.7", "`iu`"),
        ("iu-metadata", "iu", "https://169.254.169.254", "`iu`"),
        ("iu-credentials", "iu", "https://user:pw@mingle-ionapi.inforcloudsuite.com", "`iu`"),
        ("pu-no-slash", "pu", "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as", "`pu`"),
        ("pu-http", "pu", "http://mingle-sso.inforcloudsuite.com/ACME_TST/as/", "`pu`"),
        ("pu-file", "pu", "file:///etc/passwd/", "`pu`"),
        ("saak-other-tenant", "saak", "OTHER_TST#Mx8", "saak"),
        ("ci-other-tenant", "ci", "OTHER~q", "`ci`"),
        ("ti-long", "ti", "T" * 5000, "does not start with the tenant"),
    ]:
        v = dict(IONAPI)
        v[key] = value
        f(f"value-{name}", f"`{key}` = {value[:40]}", v, [expect])
    v = dict(IONAPI)
    v["x" * 500] = {"a": 1}
    f("unknown-key-object", "a 500-character unknown key holding an object", v, ["unknown keys `" + "x" * 40 + "`"])
    text = json.dumps(IONAPI).replace('"ti": "ACME_TST"', '"ti": "ACME_TST", "ti": ""')
    f("duplicate-ti", "`ti` twice, the second empty", text, ["`ti`"])


# ---------------------------------------------------------------- mapping files

MAPPING = """version: 1
accounts: { "37": "61000", CADV: "13100" }
payable_account: "20000"
parties:
  EMPL: { kind: employee_vendor }
  COMP: { kind: account, account: "10100" }
employees: { "49038128": EMP0001 }
taxes:
  - { authority: DEVAT, reclaim_account: "14500", non_deductible: expense }
"""


def mappings():
    kind = "mapping"
    clean(kind)

    def m(name, tries, text, expect):
        case(kind, name, tries, text, expect)

    m("alias-bomb", "a billion-laughs alias bomb",
      'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
      + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
                f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8))
      + MAPPING, ["unknown field `a`"])
    m("alias-bomb-in-accounts", "an alias bomb as account values (refused at the first value, unexpanded)",
      MAPPING.replace('accounts: { "37": "61000", CADV: "13100" }',
                      'accounts: { "1": &a [x,x,x,x,x,x,x,x,x], "2": &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], '
                      '"3": &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], "4": &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], '
                      '"5": [*d,*d,*d,*d,*d,*d,*d,*d,*d] }'), ["accounts", "invalid type: sequence"])
    m("alias-unknown", "an alias to an anchor that does not exist", MAPPING + "default_account: *nope\n",
      ["unknown anchor at line 10"])
    m("anchor-merge-key", "a YAML merge key (<<) in parties",
      MAPPING.replace("parties:\n", "base: &b { kind: employee_vendor }\nparties:\n  X: { <<: *b }\n"),
      ["unknown field `base`"])
    m("duplicate-account", "an account code twice", MAPPING.replace('CADV: "13100"', 'CADV: "13100", CADV: "1"'),
      ["duplicate", "CADV"])
    m("duplicate-top-level", "`accounts` twice", MAPPING + 'accounts: { "1": "2" }\n', ["duplicate", "accounts"])
    m("duplicate-party", "a party code twice", MAPPING.replace("COMP: { kind: account, account: \"10100\" }",
                                                              "COMP: { kind: account, account: \"10100\" }\n  "
                                                              "COMP: { kind: employee_vendor }"),
      ["duplicate", "COMP"])
    m("deep-nesting", "5000 nested flow sequences", MAPPING + "default_account: " + "[" * 5000 + "]" * 5000 + "\n",
      ["default_account: invalid type: sequence"])
    m("deep-block", "200 nested block maps",
      MAPPING + "dimensions:\n" + "".join("  " * (i + 1) + f"d{i}:\n" for i in range(200)),
      ["dimensions.d0: unknown field `d1`"])
    for name, text, expect in [
        ("version-2", MAPPING.replace("version: 1", "version: 2"), "version 2 is not supported"),
        ("version-string", MAPPING.replace("version: 1", "version: one"), "version"),
        ("version-huge", MAPPING.replace("version: 1", "version: 1e400"), "version"),
        ("version-missing", MAPPING.replace("version: 1\n", ""), "missing field `version`"),
        ("accounts-list", MAPPING.replace('accounts: { "37": "61000", CADV: "13100" }', "accounts: [37, 61000]"),
         "accounts"),
        ("accounts-null-value", MAPPING.replace('"37": "61000"', '"37": null'), "accounts.37 is null"),
        ("accounts-empty-value", MAPPING.replace('"37": "61000"', '"37": ""'), "accounts"),
        ("accounts-long-value", MAPPING.replace('"61000"', '"' + "6" * 65 + '"'), "accounts"),
        ("accounts-nested", MAPPING.replace('"37": "61000"', '"37": { erp: "61000" }'), "accounts"),
        ("parties-empty", MAPPING.replace("  EMPL: { kind: employee_vendor }\n  COMP: { kind: account, account: "
                                          "\"10100\" }\n", "").replace("parties:\n", "parties: {}\n"),
         "parties is empty"),
        ("parties-missing", MAPPING.replace("parties:\n  EMPL: { kind: employee_vendor }\n  COMP: { kind: account, "
                                            "account: \"10100\" }\n", ""), "missing field `parties`"),
        ("party-unknown-kind", MAPPING.replace("kind: employee_vendor", "kind: robot"), "robot"),
        ("party-vendor-missing", MAPPING.replace("kind: employee_vendor", "kind: vendor"), "vendor"),
        ("party-extra-key", MAPPING.replace("kind: employee_vendor", "kind: employee_vendor, note: x"),
         "unknown field `note`"),
        ("unknown-top-key", MAPPING + "acounts: {}\n", "unknown field `acounts`"),
        ("tax-missing-account", MAPPING.replace('reclaim_account: "14500", ', ""), "reclaim_account"),
        ("tax-non-deductible-odd", MAPPING.replace("non_deductible: expense", "non_deductible: maybe"),
         "taxes[0]"),
        ("tax-twice", MAPPING + '  - { authority: DEVAT, reclaim_account: "1", non_deductible: expense }\n',
         "mapped twice"),
        ("taxes-object", MAPPING.replace("taxes:\n  - {", "taxes:\n  x: {").replace("expense }", "expense }"),
         "taxes"),
        ("dimension-no-sources", MAPPING + "dimensions:\n  subaccount: { sources: [], default: \"0\" }\n",
         "sources is empty"),
        ("dimension-bad-source", MAPPING + "dimensions:\n  subaccount: { sources: [employeeCustom1], default: x }\n",
         "is not a Concur cost-object field"),
        ("dimension-no-default", MAPPING + "dimensions:\n  subaccount: { sources: [allocationCustom1] }\n",
         "say what happens when a document has no value"),
        ("dimension-both", MAPPING + "dimensions:\n  subaccount: { sources: [allocationCustom1], default: x, "
                                     "required: true }\n", "not both"),
        ("dimension-required-string", MAPPING + "dimensions:\n  subaccount: { sources: [allocationCustom1], "
                                                "required: \"yes\" }\n", "required"),
        ("tabs", MAPPING.replace("  EMPL", "\tEMPL"), "tab"),
        ("not-yaml", "version: 1\naccounts: {\n", "the mapping is not valid"),
        ("empty-file", "", "the mapping is not valid"),
        ("only-comment", "# nothing\n", "the mapping is not valid"),
        ("a-list", "- 1\n- 2\n", "the mapping is not valid"),
        ("a-scalar", "hello\n", "the mapping is not valid"),
        ("json-array", "[1, 2]", "the mapping is not valid"),
        ("two-documents", MAPPING + "---\n" + MAPPING, "the mapping is not valid"),
        ("control-char", MAPPING.replace('"61000"', '"610\\u0000"'), "accounts"),
        ("bidi-value", MAPPING.replace('"61000"', '"610\u202e00"'), "accounts.37 contains invisible"),
        # YAML limits implicit keys to 1024 characters; the reader names the position.
        ("account-key-huge", MAPPING.replace('"37"', '"' + "3" * 5000 + '"'), "at line 2 column 5015"),
    ]:
        m(name, f"mapping: {name.replace('-', ' ')}", text, [expect])


# ---------------------------------------------------------------- credentials files

ACUMATICA = {"client_id": "88358B02-A48D-A50E-F710-39C1636C30F6", "client_secret": "s", "username": "u",
             "password": "p"}
IFS = {"client_id": "concur-connector", "client_secret": "s"}


def credentials():
    kind = "credentials"
    clean(kind)

    def c(name, tries, erp, value, expect, **extra):
        body = value if isinstance(value, (str, bytes)) else json.dumps(value, indent=1)
        case(kind, name, tries, body, expect, erp=erp, **extra)

    for erp, good in [("acumatica", ACUMATICA), ("ifs_cloud", IFS)]:
        short = "acu" if erp == "acumatica" else "ifs"
        for key in good:
            v = dict(good)
            del v[key]
            c(f"{short}-missing-{key}", f"{erp} without `{key}`", erp, v, [f"lack `{key}`"])
            v = dict(good)
            v[key] = "   "
            c(f"{short}-blank-{key}", f"{erp} `{key}` of blanks", erp, v, [f"`{key}` must be a non-empty string"])
            v = dict(good)
            v[key] = 12345
            c(f"{short}-number-{key}", f"{erp} `{key}` as a number", erp, v, [f"`{key}` must be a non-empty string"])
        v = dict(good)
        v["tenant"] = "x"
        c(f"{short}-unknown-key", f"{erp} with an unknown key", erp, v, ["unknown keys `tenant`"])
        for name, body, expect in [
            ("not-json", "client_id=x", "is not JSON"),
            ("array", "[]", "must be a JSON object"),
            ("empty", "", "is not JSON"),
            ("truncated", json.dumps(good)[:-3], "is not JSON"),
            ("yaml", "client_id: x\nclient_secret: y\n", "is not JSON"),
        ]:
            c(f"{short}-file-{name}", f"{erp} credentials that are {name}", erp, body, [expect])
        c(f"{short}-oversized", f"{erp} credentials of 70 KB (built in the test)", erp, "", ["larger than 64 KiB"],
          generated="seventy-kb-credentials")
    v = dict(ACUMATICA)
    v["client_id"] += "@OtherTenant"
    c("acu-other-tenant", "a client id naming another tenant", "acumatica", v, ["names tenant `OtherTenant`"])
    v = dict(ACUMATICA)
    v["password"] = {"value": "p"}
    c("acu-object-password", "the password as an object", "acumatica", v, ["`password` must be a non-empty string"])


# ---------------------------------------------------------------- ERP and Concur responses

TOKEN = json.dumps({"access_token": "t0k3n", "token_type": "Bearer", "expires_in": 3600})
HTML_500 = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
            "<hr><center>nginx</center></body></html>")


def responses():
    kind = "response"
    clean(kind)

    def r(name, tries, service, call, status, body, expect, content_type="application/json", **extra):
        case(kind, name, tries, body, expect, service=service, call=call, status=status,
             content_type=content_type, **extra)

    # The same hostile answers to every client, then call-specific shapes.
    common = [
        ("html-500", 500, HTML_500, "text/html", "HTTP 500: an HTML page titled `502 Bad Gateway`",
         "an HTML error page from a proxy"),
        ("html-200", 200, HTML_500, "text/html", None, "an HTML page with status 200"),
        ("truncated-json", 200, '{"access_token": "t0k', "application/json", None, "truncated JSON"),
        ("empty-200", 200, "", "application/json", None, "an empty 200"),
        ("status-418", 418, "I'm a teapot", "text/plain", "HTTP 418", "status 418"),
        ("status-999", 999, "{}", "application/json", "HTTP 999", "a status code past the registry"),
        ("status-204", 204, "", "application/json", None, "204 No Content where a body is needed"),
        ("status-302", 302, "", "text/html", "to another server (https://evil.example) is not followed",
         "a redirect to another host"),
        ("json-null", 200, "null", "application/json", None, "the JSON literal null"),
        ("json-array", 200, "[]", "application/json", None, "an empty array"),
        ("deep-json", 200, "", "application/json", None, "100 000 nested arrays (built in the test)"),
        ("huge-body", 200, "", "application/json", "larger than 16777216 bytes, which was refused unread",
         "a 17 MiB body (built in the test)"),
    ]
    calls = [
        ("concur", "token", "token"), ("concur", "fi-page", "Concur"), ("concur", "fi-document", "Concur"),
        ("concur", "acknowledge", "Concur"), ("concur", "confirm", "Concur"), ("concur", "profile", "Concur"),
        ("acumatica", "token", "Acumatica"), ("acumatica", "read", "Acumatica"),
        ("acumatica", "lookup", "Acumatica"), ("ifs", "token", "IFS"), ("ifs", "read", "IFS"),
        ("ifs", "lookup", "IFS"), ("infor", "token", "Infor"), ("infor", "ping", "Infor"),
    ]
    read_failure = {
        ("concur", "token"): "the token endpoint's answer is not a token response",
        ("acumatica", "read"): "Acumatica's answer to a Vendor read could not be read",
        ("acumatica", "lookup"): "Acumatica's answer to a document lookup could not be read",
        ("ifs", "read"): "IFS's answer to a GL account read in company 10 could not be used",
        ("ifs", "lookup"): "IFS's answer to the GL voucher lookup in company 10 could not be used",
    }
    for service, call, _ in calls:
        for short, status, body, ctype, expect, tries in common:
            if expect is None and 200 <= status < 300:
                # A 2xx whose body is not what the call reads: the error says which answer.
                if call == "token" and service != "concur":
                    expect = "the token endpoint's answer has no access_token"
                elif call in ("acknowledge", "confirm") and short == "json-array":
                    expect = "Concur's answer held no item for this document"
                else:
                    expect = read_failure.get((service, call), "Concur's answer could not be read")
            elif expect is None:
                expect = f"HTTP {status}"
            # A ping reads only the status; an empty vendor or bill list is a real answer.
            if call == "ping" and 200 <= status < 300 or (service, call, short) in [
                ("acumatica", "read", "json-array"), ("acumatica", "lookup", "json-array")]:
                continue
            extra = {}
            if short == "huge-body":
                extra["generated"] = "seventeen-mib"
            if short == "deep-json":
                extra["generated"] = "deep-array-100k"
            if short == "status-302":
                extra["header"] = "location: https://evil.example/steal"
            r(f"{service}-{call}-{short}", f"{service} {call}: {tries}", service, call, status, body,
              [expect] if expect else [], content_type=ctype, **extra)


if __name__ == "__main__":
    os.chdir(HERE)
    webhooks()
    fi_documents()
    ion_messages()
    ionapi_files()
    mappings()
    credentials()
    responses()
    for kind, names in sorted(written.items()):
        print(f"{kind}: {len(names)} generated cases")
