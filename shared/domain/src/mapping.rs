//! A connection's mapping: how Concur's codes become ERP accounts, vendors
//! and cost dimensions. Operators write it as YAML (imported and exported
//! with the operator CLI); it is validated as a whole on import, so a
//! stored mapping is always complete and consistent.
//!
//! ```yaml
//! version: 1
//! accounts:                 # Concur journal account code → ERP GL account
//!   "37": "61000"
//!   CADV: "13100"
//! default_account: null     # omit or null: an unmapped account stops the document
//! payable_account: "20000"  # AP control account for vendor lines of documents posted as journals
//! rounding_account: "69990" # takes the difference left by rounding lines to the currency's minor units
//! parties:                  # journal payer/payee codes → counter side
//!   EMPL: { kind: employee_vendor }
//!   IBCP: { kind: vendor, vendor: AMEXCORP }
//!   CBCP: { kind: account, account: "20500" }
//! employees:                # Concur employee id → ERP vendor (for employee_vendor parties)
//!   "49038128": EMP0001
//! dimensions:               # ERP cost dimensions, from the most granular Concur field first
//!   subaccount:
//!     sources: [allocationCustom1, entryOrgUnit1]
//!     values: { "0100": "000-100" }
//!     default: "000-000"    # or `required: true`: a document without a value is stopped
//! taxes:
//!   - { authority: DEVAT, reclaim_account: "14500", non_deductible: expense }
//!   - { authority: FRVAT, code: STANDARD, reclaim_account: "14510", non_deductible: { account: "61900" } }
//! ```
//!
//! Concur codes are compared with surrounding blanks trimmed (FI documents
//! carry codes such as `"2000   "`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Longest ERP value accepted (account, vendor, subaccount ids).
const MAX_ERP_VALUE: usize = 64;

/// A line's ERP dimensions: dimension name (as the ERP calls it) → its ERP value.
pub type ErpDimensions = BTreeMap<String, String>;

/// The mapping of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Format version; only 1 exists.
    pub version: u8,
    #[serde(default, deserialize_with = "unique_keys")]
    pub accounts: BTreeMap<String, String>,
    /// The ERP account for a Concur account code missing from `accounts`;
    /// `None` stops such a document instead (the safer default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_account: Option<String>,
    /// The GL account (AP control) that lines owed to a vendor post on when
    /// the document is posted as a journal; `None`: such a document is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payable_account: Option<String>,
    /// The GL account that takes what rounding each line to the currency's
    /// minor units leaves over, so every ERP document still balances; `None`:
    /// a document whose rounded lines do not add up is stopped, never
    /// balanced silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding_account: Option<String>,
    #[serde(deserialize_with = "unique_keys")]
    pub parties: BTreeMap<String, PartyRule>,
    #[serde(default, deserialize_with = "unique_keys")]
    pub employees: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "unique_keys")]
    pub dimensions: BTreeMap<String, DimensionRule>,
    #[serde(default)]
    pub taxes: Vec<TaxRule>,
}

/// What a journal payer/payee code posts against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PartyRule {
    /// The employee's own vendor, looked up in `employees`. A struct variant,
    /// not a unit one: serde ignores unknown keys next to the tag of a unit
    /// variant even under `deny_unknown_fields`.
    EmployeeVendor {},
    /// A fixed vendor (a card issuer).
    Vendor { vendor: String },
    /// A GL account (a clearing account).
    Account { account: String },
}

/// One ERP cost dimension (subaccount, cost center, branch, project…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionRule {
    /// Concur fields to read, most granular first (`allocationCustom1`, `entryOrgUnit2`, …).
    pub sources: Vec<String>,
    /// Concur value → ERP value; a value not listed is used as it is.
    #[serde(default, deserialize_with = "unique_keys")]
    pub values: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// No default: a document without a value is stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

/// Where a tax authority's (and optionally code's) amounts go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRule {
    pub authority: String,
    /// `None`: every code of the authority not matched by a more specific rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The reclaimable part (input VAT receivable).
    pub reclaim_account: String,
    pub non_deductible: NonDeductible,
}

/// Where the non-deductible part of a tax goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", untagged)]
pub enum NonDeductible {
    /// `expense`: added to the expense line's account.
    Keyword(NonDeductibleKeyword),
    /// `{ account: X }`: a separate account.
    Account { account: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonDeductibleKeyword {
    Expense,
}

/// Every problem of a mapping file, listed at once so an operator fixes
/// them in one pass. Nothing is stored while there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the mapping is not valid, nothing was stored:\n  - {}", .problems.join("\n  - "))]
pub struct MappingError {
    pub problems: Vec<String>,
}

/// A code the mapping has no answer for; stops the document with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{code}` is not mapped: add it to `{section}` in the connection's mapping (connector mapping import)")]
pub struct Unmapped {
    pub what: &'static str,
    pub code: String,
    pub section: &'static str,
}

fn unmapped(what: &'static str, code: &str, section: &'static str) -> Unmapped {
    Unmapped { what, code: crate::text::truncate(code.trim(), 80).to_owned(), section }
}

impl Mapping {
    /// Parses and validates a mapping file. Unknown keys, duplicate keys,
    /// empty or over-long values and incomplete rules are all refused.
    pub fn from_yaml(text: &str) -> Result<Self, MappingError> {
        let mapping: Mapping =
            serde_yaml_ng::from_str(text).map_err(|e| MappingError { problems: vec![yaml_problem(&e)] })?;
        mapping.validate()?;
        Ok(mapping)
    }

    pub fn to_yaml(&self) -> String {
        // Serializing maps of strings cannot fail.
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Checks what the YAML shape cannot: values, duplicates after
    /// trimming, and that every rule is complete.
    pub fn validate(&self) -> Result<(), MappingError> {
        let mut problems = Vec::new();
        if self.version != 1 {
            problems.push(format!("version {} is not supported (write `version: 1`)", self.version));
        }
        check_map(&mut problems, "accounts", &self.accounts);
        check_map(&mut problems, "employees", &self.employees);
        if let Some(default) = &self.default_account {
            check_value(&mut problems, "default_account", default);
        }
        if let Some(payable) = &self.payable_account {
            check_value(&mut problems, "payable_account", payable);
        }
        if let Some(rounding) = &self.rounding_account {
            check_value(&mut problems, "rounding_account", rounding);
        }
        if self.parties.is_empty() {
            problems.push(
                "parties is empty: map at least the employee code (e.g. `EMPL: { kind: employee_vendor }`)".into(),
            );
        }
        check_keys(&mut problems, "parties", self.parties.keys());
        for (code, rule) in &self.parties {
            match rule {
                PartyRule::EmployeeVendor {} => {}
                PartyRule::Vendor { vendor } => check_value(&mut problems, &format!("parties.{code}.vendor"), vendor),
                PartyRule::Account { account } => {
                    check_value(&mut problems, &format!("parties.{code}.account"), account);
                }
            }
        }
        for (name, rule) in &self.dimensions {
            let at = format!("dimensions.{name}");
            if rule.sources.is_empty() {
                problems
                    .push(format!("{at}.sources is empty: name the Concur fields to read (e.g. allocationCustom1)"));
            }
            for source in &rule.sources {
                if !is_concur_field(source) {
                    problems.push(format!(
                        "{at}.sources: `{source}` is not a Concur cost-object field (allocationCustomN, entryOrgUnitN, entryCustomN, reportOrgUnitN, reportCustomN)"
                    ));
                }
            }
            check_map(&mut problems, &format!("{at}.values"), &rule.values);
            match (&rule.default, rule.required) {
                (Some(_), true) => problems.push(format!("{at}: give either `default` or `required: true`, not both")),
                (None, false) => problems.push(format!(
                    "{at}: say what happens when a document has no value: `default: <ERP value>` or `required: true`"
                )),
                (Some(default), false) => check_value(&mut problems, &format!("{at}.default"), default),
                (None, true) => {}
            }
        }
        let mut seen_taxes = BTreeSet::new();
        for (i, rule) in self.taxes.iter().enumerate() {
            let at = format!("taxes[{i}]");
            check_value(&mut problems, &format!("{at}.authority"), &rule.authority);
            check_value(&mut problems, &format!("{at}.reclaim_account"), &rule.reclaim_account);
            if let NonDeductible::Account { account } = &rule.non_deductible {
                check_value(&mut problems, &format!("{at}.non_deductible.account"), account);
            }
            let key = (rule.authority.trim().to_owned(), rule.code.as_deref().map(str::trim).map(str::to_owned));
            if !seen_taxes.insert(key) {
                problems.push(format!(
                    "{at}: authority `{}`{} is mapped twice",
                    rule.authority.trim(),
                    rule.code.as_deref().map(|c| format!(" code `{}`", c.trim())).unwrap_or_default()
                ));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(MappingError { problems }) }
    }

    /// The ERP account of a Concur journal account code.
    pub fn account(&self, concur_code: &str) -> Result<&str, Unmapped> {
        lookup(&self.accounts, concur_code)
            .map(String::as_str)
            .or(self.default_account.as_deref())
            .ok_or_else(|| unmapped("Concur account code", concur_code, "accounts"))
    }

    /// What a journal payer/payee code posts against.
    pub fn party(&self, code: &str) -> Result<&PartyRule, Unmapped> {
        lookup(&self.parties, code).ok_or_else(|| unmapped("payment code", code, "parties"))
    }

    /// The ERP vendor of a Concur employee.
    pub fn employee_vendor(&self, employee_id: &str) -> Result<&str, Unmapped> {
        lookup(&self.employees, employee_id)
            .map(String::as_str)
            .ok_or_else(|| unmapped("Concur employee", employee_id, "employees"))
    }

    /// Every dimension's ERP value, reading Concur fields through `field`
    /// (most granular first, as each rule lists them).
    pub fn dimensions<'a>(&'a self, field: impl Fn(&str) -> Option<&'a str>) -> Result<ErpDimensions, Unmapped> {
        let mut out = BTreeMap::new();
        for (name, rule) in &self.dimensions {
            let found = rule.sources.iter().find_map(|s| field(s).map(str::trim).filter(|v| !v.is_empty()));
            let value = match (found, &rule.default) {
                (Some(v), _) => lookup(&rule.values, v).map_or(v, String::as_str).to_owned(),
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(Unmapped {
                        what: "cost dimension",
                        code: format!("{name} (none of {} has a value)", rule.sources.join(", ")),
                        section: "dimensions",
                    });
                }
            };
            out.insert(name.clone(), value);
        }
        Ok(out)
    }

    /// The tax rule for an authority and code: an exact code rule first,
    /// then the authority's catch-all.
    pub fn tax(&self, authority: &str, code: Option<&str>) -> Result<&TaxRule, Unmapped> {
        let authority = authority.trim();
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let same_authority = |r: &&TaxRule| r.authority.trim() == authority;
        self.taxes
            .iter()
            .filter(same_authority)
            .find(|r| code.is_some() && r.code.as_deref().map(str::trim) == code)
            .or_else(|| self.taxes.iter().filter(same_authority).find(|r| r.code.is_none()))
            .ok_or_else(|| {
                unmapped(
                    "tax authority",
                    &format!("{authority}{}", code.map(|c| format!(" / {c}")).unwrap_or_default()),
                    "taxes",
                )
            })
    }
}

/// Every ERP value a mapping names, by kind: what must exist in the ERP for
/// the mapping to post (checked with `connector mapping check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErpValues {
    /// GL accounts: `accounts`, `default_account`, account parties, tax
    /// accounts, `payable_account`, `rounding_account`.
    pub accounts: BTreeSet<String>,
    /// Vendors: employees' vendors and vendor parties.
    pub vendors: BTreeSet<String>,
    /// Per dimension name: its listed values and its default.
    pub dimensions: BTreeMap<String, BTreeSet<String>>,
}

impl Mapping {
    pub fn erp_values(&self) -> ErpValues {
        let trimmed = |v: &String| v.trim().to_owned();
        let mut accounts: BTreeSet<String> = self.accounts.values().map(trimmed).collect();
        accounts.extend(self.default_account.iter().map(trimmed));
        accounts.extend(self.payable_account.iter().map(trimmed));
        accounts.extend(self.rounding_account.iter().map(trimmed));
        let mut vendors: BTreeSet<String> = self.employees.values().map(trimmed).collect();
        for rule in self.parties.values() {
            match rule {
                PartyRule::Account { account } => {
                    accounts.insert(account.trim().to_owned());
                }
                PartyRule::Vendor { vendor } => {
                    vendors.insert(vendor.trim().to_owned());
                }
                PartyRule::EmployeeVendor {} => {}
            }
        }
        for rule in &self.taxes {
            accounts.insert(rule.reclaim_account.trim().to_owned());
            if let NonDeductible::Account { account } = &rule.non_deductible {
                accounts.insert(account.trim().to_owned());
            }
        }
        let dimensions = self
            .dimensions
            .iter()
            .map(|(name, rule)| {
                (name.clone(), rule.values.values().chain(rule.default.as_ref()).map(trimmed).collect())
            })
            .collect();
        ErpValues { accounts, vendors, dimensions }
    }
}

/// YAML forbids duplicate keys but serde's maps keep the last one silently:
/// a mapping with `CADV` twice must be refused, not half-applied.
fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of codes")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((key, value)) = access.next_entry::<String, V>()? {
                if map.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
                }
                map.insert(key, value);
            }
            Ok(map)
        }
    }
    deserializer.deserialize_map(Unique(std::marker::PhantomData))
}

fn lookup<'a, V>(map: &'a BTreeMap<String, V>, code: &str) -> Option<&'a V> {
    let code = code.trim();
    map.get(code).or_else(|| map.iter().find(|(k, _)| k.trim() == code).map(|(_, v)| v))
}

fn is_concur_field(name: &str) -> bool {
    ["allocationCustom", "entryOrgUnit", "entryCustom", "reportOrgUnit", "reportCustom"]
        .iter()
        .any(|prefix| name.strip_prefix(prefix).is_some_and(|n| n.parse::<u8>().is_ok_and(|n| (1..=40).contains(&n))))
}

fn check_value(problems: &mut Vec<String>, at: &str, value: &str) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        problems.push(format!("{at} is empty"));
    } else if trimmed.chars().count() > MAX_ERP_VALUE {
        problems.push(format!("{at} is longer than {MAX_ERP_VALUE} characters"));
    } else if trimmed.chars().any(char::is_control) {
        problems.push(format!("{at} contains control characters"));
    } else if trimmed.chars().any(is_invisible) {
        problems.push(format!("{at} contains invisible or direction-changing characters"));
    } else if trimmed == "~" || trimmed.eq_ignore_ascii_case("null") {
        // YAML reads a bare `null` into a text field as the text "null": it
        // would become an ERP value named "null".
        problems.push(format!("{at} is null: give the ERP value"));
    }
}

/// Zero-width and bidirectional formatting characters: they make a value
/// read differently from what the ERP receives.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn check_keys<'a>(problems: &mut Vec<String>, section: &str, keys: impl Iterator<Item = &'a String>) {
    let mut seen = BTreeSet::new();
    for key in keys {
        let trimmed = key.trim();
        if trimmed.is_empty() {
            problems.push(format!("{section} has an empty code"));
        } else if !seen.insert(trimmed.to_owned()) {
            problems
                .push(format!("{section}: `{trimmed}` appears twice (codes are compared without surrounding blanks)"));
        }
    }
}

fn check_map(problems: &mut Vec<String>, section: &str, map: &BTreeMap<String, String>) {
    check_keys(problems, section, map.keys());
    for (key, value) in map {
        check_value(problems, &format!("{section}.{}", key.trim()), value);
    }
}

/// serde_yaml_ng's messages name the line and column; keep them, bounded.
fn yaml_problem(error: &serde_yaml_ng::Error) -> String {
    format!("the file is not a valid mapping: {}", crate::text::truncate(&error.to_string(), 300))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the bad-input corpus: `{ kind: employee_vendor, vendor: X }`
    /// was stored with `vendor` silently dropped.
    #[test]
    fn unknown_keys_next_to_employee_vendor_are_refused() {
        let extra = EXAMPLE.replace("{ kind: employee_vendor }", "{ kind: employee_vendor, vendor: AMEX }");
        assert_ne!(extra, EXAMPLE);
        let problems = Mapping::from_yaml(&extra).unwrap_err().problems;
        assert!(problems[0].contains("unknown field `vendor`"), "{problems:?}");
        let plain = Mapping::from_yaml(EXAMPLE).unwrap();
        assert!(plain.to_yaml().contains("kind: employee_vendor"), "{}", plain.to_yaml());
    }

    /// Found by the bad-input corpus: a bare `null` was stored as the ERP
    /// account "null", and a right-to-left override passed as a value.
    #[test]
    fn null_and_invisible_values_are_refused() {
        let null = EXAMPLE.replace(r#""37": "61000""#, r#""37": null"#);
        let problems = Mapping::from_yaml(&null).unwrap_err().problems;
        assert!(problems.iter().any(|p| p == "accounts.37 is null: give the ERP value"), "{problems:?}");
        let bidi = EXAMPLE.replace(r#""37": "61000""#, "\"37\": \"610\u{202e}00\"");
        let problems = Mapping::from_yaml(&bidi).unwrap_err().problems;
        assert!(problems.iter().any(|p| p.contains("accounts.37 contains invisible")), "{problems:?}");
    }

    const EXAMPLE: &str = r#"
version: 1
accounts:
  "37": "61000"
  CADV: "13100"
parties:
  EMPL: { kind: employee_vendor }
  IBCP: { kind: vendor, vendor: AMEXCORP }
  CBCP: { kind: account, account: "20500" }
employees:
  "49038128": EMP0001
dimensions:
  subaccount:
    sources: [allocationCustom1, entryOrgUnit1]
    values: { "0100": "000-100" }
    default: "000-000"
  branch:
    sources: [reportOrgUnit1]
    required: true
taxes:
  - { authority: DEVAT, reclaim_account: "14500", non_deductible: expense }
  - { authority: FRVAT, code: STANDARD, reclaim_account: "14510", non_deductible: { account: "61900" } }
"#;

    #[test]
    fn the_documented_example_parses_and_answers() {
        let m = Mapping::from_yaml(EXAMPLE).unwrap();
        assert_eq!(m.account("37").unwrap(), "61000");
        assert_eq!(m.account("CADV   ").unwrap(), "13100", "codes are trimmed");
        assert_eq!(m.party("IBCP").unwrap(), &PartyRule::Vendor { vendor: "AMEXCORP".into() });
        assert_eq!(m.employee_vendor("49038128").unwrap(), "EMP0001");
        let fields = |name: &str| match name {
            "entryOrgUnit1" => Some("0100"),
            "reportOrgUnit1" => Some("HQ"),
            _ => None,
        };
        let dims = m.dimensions(fields).unwrap();
        assert_eq!(dims["subaccount"], "000-100");
        assert_eq!(dims["branch"], "HQ", "an unlisted value is used as it is");
        assert_eq!(m.tax("DEVAT", Some("REDUCED")).unwrap().reclaim_account, "14500");
        assert_eq!(m.tax("FRVAT", Some("STANDARD")).unwrap().reclaim_account, "14510");
        assert_eq!(Mapping::from_yaml(&m.to_yaml()).unwrap(), m, "export then import is the same mapping");
    }

    #[test]
    fn what_is_not_mapped_says_where_to_add_it() {
        let m = Mapping::from_yaml(EXAMPLE).unwrap();
        let e = m.account("9999").unwrap_err();
        assert_eq!(e.section, "accounts");
        assert!(e.to_string().contains("`9999` is not mapped"), "{e}");
        assert!(m.party("COPD").is_err());
        assert!(m.employee_vendor("1").is_err());
        assert!(m.tax("FRVAT", Some("REDUCED")).is_err(), "FRVAT has no catch-all");
        let e = m.dimensions(|_| None).unwrap_err();
        assert!(e.to_string().contains("branch"), "{e}");
        let with_default = Mapping { default_account: Some("69999".into()), ..m };
        assert_eq!(with_default.account("9999").unwrap(), "69999");
    }

    #[test]
    fn unknown_and_duplicate_keys_are_refused() {
        let unknown = EXAMPLE.replace("employees:", "employes:");
        let e = Mapping::from_yaml(&unknown).unwrap_err();
        assert!(e.to_string().contains("employes"), "{e}");
        let duplicate = EXAMPLE.replace("  CADV: \"13100\"", "  CADV: \"13100\"\n  CADV: \"13200\"");
        let e = Mapping::from_yaml(&duplicate).unwrap_err();
        assert!(e.to_string().to_lowercase().contains("duplicate"), "{e}");
        let blank_twin = EXAMPLE.replace("  CADV: \"13100\"", "  CADV: \"13100\"\n  \"CADV  \": \"13200\"");
        let e = Mapping::from_yaml(&blank_twin).unwrap_err();
        assert!(e.to_string().contains("`CADV` appears twice"), "{e}");
        assert!(Mapping::from_yaml("version: 1\nparties: {EMPL: {kind: teleport}}").is_err());
        assert!(Mapping::from_yaml(": : :").is_err());
    }

    #[test]
    fn incomplete_rules_are_all_listed_at_once() {
        let text = r#"
version: 2
accounts: { "37": "" }
parties: {}
dimensions:
  subaccount: { sources: [allocationCustom99] }
taxes:
  - { authority: DEVAT, reclaim_account: "1", non_deductible: expense }
  - { authority: " DEVAT", reclaim_account: "2", non_deductible: expense }
"#;
        let e = Mapping::from_yaml(text).unwrap_err();
        let all = e.problems.join("\n");
        for expected in [
            "version 2",
            "accounts.37 is empty",
            "parties is empty",
            "allocationCustom99",
            "`default: <ERP value>` or `required: true`",
            "mapped twice",
        ] {
            assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
        }
        assert!(e.to_string().starts_with("the mapping is not valid, nothing was stored"));
    }
}
