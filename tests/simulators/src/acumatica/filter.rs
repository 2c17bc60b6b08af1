//! `$filter`: an OData-v3 expression parser, a type check against the
//! entity's contract, and an evaluator over stored records.
//!
//! Supported: `eq ne gt ge lt le and or not`, parentheses, `substringof`,
//! `startswith`, `endswith`, string literals (`''` escapes a quote), numbers,
//! `true`/`false`/`null`, `datetimeoffset'…'`/`datetime'…'`/`guid'…'`,
//! linked fields (`MainContact/Email`) and custom fields
//! (`cf.String(f='Document.UsrX')`). Anything else is a 400.
//!
//! Semantics where the reference is silent: text comparisons are
//! case-insensitive (Acumatica runs on a case-insensitive collation), a null
//! field is `ne` any non-null literal and fails every ordering comparison.
//! Filtering on detail lines is undefined in Acumatica, so it is refused.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::schema::{Schema, Ty};
use super::state::{CustomType, Record, Val};
use super::wire::{parse_date, parse_decimal};

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_word(word: &str) -> Option<CmpOp> {
        Some(match word {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }

    fn kind_name(self) -> &'static str {
        match self {
            CmpOp::Eq => "Equal",
            CmpOp::Ne => "NotEqual",
            CmpOp::Gt => "GreaterThan",
            CmpOp::Ge => "GreaterThanOrEqual",
            CmpOp::Lt => "LessThan",
            CmpOp::Le => "LessThanOrEqual",
        }
    }
}

/// Boolean string functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    SubstringOf,
    StartsWith,
    EndsWith,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Num(Decimal),
    Bool(bool),
    Null,
    Date(OffsetDateTime),
}

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Call(Func, Box<Expr>, Box<Expr>),
    /// A contract field, possibly through linked entities (`MainContact/Email`).
    Field(Vec<String>),
    Custom {
        ty: CustomType,
        view: String,
        field: String,
    },
    Lit(Lit),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Equals,
    Str(String),
    Num(String),
    Ident(String),
    /// `datetimeoffset'...'` and friends: (prefix, text)
    Typed(String, String),
}

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn error(&self, at: usize) -> String {
        format!("Syntax error at position {at} in '{}'.", self.src)
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, String> {
        let mut out = Vec::new();
        while self.pos < self.chars.len() {
            let (at, c) = self.chars[self.pos];
            if c.is_whitespace() {
                self.pos += 1;
                continue;
            }
            let tok = match c {
                '(' => {
                    self.pos += 1;
                    Tok::LParen
                }
                ')' => {
                    self.pos += 1;
                    Tok::RParen
                }
                ',' => {
                    self.pos += 1;
                    Tok::Comma
                }
                '=' => {
                    self.pos += 1;
                    Tok::Equals
                }
                '\'' => Tok::Str(self.quoted()?),
                c if c.is_ascii_digit() || c == '-' || c == '.' => self.number()?,
                c if c.is_alphabetic() || c == '_' => {
                    let start = self.pos;
                    while self.pos < self.chars.len() {
                        let ch = self.chars[self.pos].1;
                        if ch.is_alphanumeric() || ch == '_' || ch == '.' || ch == '/' {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    let word: String = self.chars[start..self.pos].iter().map(|(_, ch)| ch).collect();
                    if self.chars.get(self.pos).is_some_and(|(_, ch)| *ch == '\'') {
                        let text = self.quoted()?;
                        Tok::Typed(word, text)
                    } else {
                        Tok::Ident(word)
                    }
                }
                _ => return Err(self.error(at)),
            };
            out.push((at, tok));
        }
        Ok(out)
    }

    /// A single-quoted literal starting at the current quote; `''` is a quote.
    fn quoted(&mut self) -> Result<String, String> {
        let (start, _) = self.chars[self.pos];
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.chars.get(self.pos) {
                None => {
                    return Err(format!(
                        "There is an unterminated string literal at position {start} in '{}'.",
                        self.src
                    ));
                }
                Some((_, '\'')) => {
                    if self.chars.get(self.pos + 1).is_some_and(|(_, c)| *c == '\'') {
                        text.push('\'');
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(text);
                    }
                }
                Some((_, c)) => {
                    text.push(*c);
                    self.pos += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Tok, String> {
        let (at, _) = self.chars[self.pos];
        let start = self.pos;
        if self.chars[self.pos].1 == '-' {
            self.pos += 1;
        }
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos].1;
            let prev = if self.pos > start { self.chars[self.pos - 1].1 } else { ' ' };
            if c.is_ascii_digit()
                || c == '.'
                || c == 'e'
                || c == 'E'
                || ((c == '+' || c == '-') && (prev == 'e' || prev == 'E'))
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text: String = self.chars[start..self.pos].iter().map(|(_, c)| c).collect();
        // OData type suffixes: 12.5M (decimal), 12L (long), 1.5d / 1.5f.
        if self.chars.get(self.pos).is_some_and(|(_, c)| matches!(c, 'M' | 'm' | 'L' | 'l' | 'd' | 'D' | 'f' | 'F')) {
            self.pos += 1;
        }
        if self.chars.get(self.pos).is_some_and(|(_, c)| c.is_alphanumeric()) || parse_decimal(&text).is_none() {
            return Err(self.error(at));
        }
        Ok(Tok::Num(text))
    }
}

/// Deepest nesting of parentheses/calls accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|(p, _)| *p).unwrap_or(self.src.chars().count())
    }

    fn error(&self) -> String {
        format!("Syntax error at position {} in '{}'.", self.at(), self.src)
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), String> {
        if self.peek() == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!("The $filter expression is nested more than {MAX_DEPTH} levels deep."));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        let left = self.primary()?;
        if let Some(Tok::Ident(word)) = self.peek()
            && let Some(op) = CmpOp::from_word(word)
        {
            self.pos += 1;
            let right = self.primary()?;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some((_, tok)) = self.toks.get(self.pos).cloned() else { return Err(self.error()) };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("The $filter expression is nested more than {MAX_DEPTH} levels deep."));
                }
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Tok::RParen)?;
                Ok(inner)
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Lit(Lit::Str(s)))
            }
            Tok::Num(n) => {
                self.pos += 1;
                parse_decimal(&n).map(|d| Expr::Lit(Lit::Num(d))).ok_or_else(|| self.error())
            }
            Tok::Typed(prefix, text) => {
                let here = self.at();
                self.pos += 1;
                match prefix.as_str() {
                    "datetimeoffset" | "datetime" => {
                        parse_date(&text).map(|d| Expr::Lit(Lit::Date(d))).ok_or_else(|| {
                            format!(
                                "Unrecognized '{prefix}' literal '{prefix}'{text}'' at position {here} in '{}'.",
                                self.src
                            )
                        })
                    }
                    "guid" => uuid::Uuid::parse_str(&text).map(|g| Expr::Lit(Lit::Str(g.to_string()))).map_err(|_| {
                        format!("Unrecognized 'Edm.Guid' literal 'guid'{text}'' at position {here} in '{}'.", self.src)
                    }),
                    _ => Err(format!("Syntax error at position {here} in '{}'.", self.src)),
                }
            }
            Tok::Ident(word) => {
                self.pos += 1;
                match word.as_str() {
                    "true" => return Ok(Expr::Lit(Lit::Bool(true))),
                    "false" => return Ok(Expr::Lit(Lit::Bool(false))),
                    "null" => return Ok(Expr::Lit(Lit::Null)),
                    _ => {}
                }
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    return self.call(&word);
                }
                if CmpOp::from_word(&word).is_some() || matches!(word.as_str(), "and" | "or" | "not") {
                    self.pos -= 1;
                    return Err(self.error());
                }
                Ok(Expr::Field(word.split('/').map(str::to_owned).collect()))
            }
            _ => Err(self.error()),
        }
    }

    /// A function call; the opening parenthesis is already consumed.
    fn call(&mut self, name: &str) -> Result<Expr, String> {
        if let Some(type_name) = name.strip_prefix("cf.") {
            let ty = CustomType::from_short(type_name)
                .ok_or_else(|| format!("Unknown custom field function 'cf.{type_name}' in '{}'.", self.src))?;
            if !self.keyword("f") {
                return Err(self.error());
            }
            self.expect(Tok::Equals)?;
            let Some(Tok::Str(target)) = self.peek().cloned() else { return Err(self.error()) };
            self.pos += 1;
            self.expect(Tok::RParen)?;
            let Some((view, field)) = target.split_once('.') else {
                return Err(format!("The custom field '{target}' must be given as 'View.Field' in '{}'.", self.src));
            };
            return Ok(Expr::Custom { ty, view: view.to_owned(), field: field.to_owned() });
        }
        let func = match name {
            "substringof" => Func::SubstringOf,
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            _ => return Err(format!("Unknown function '{name}' in '{}'.", self.src)),
        };
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("The $filter expression is nested more than {MAX_DEPTH} levels deep."));
        }
        let first = self.or()?;
        self.depth -= 1;
        self.expect(Tok::Comma)?;
        let second = self.or()?;
        self.expect(Tok::RParen)?;
        Ok(Expr::Call(func, Box::new(first), Box::new(second)))
    }
}

/// Parses a `$filter` value; the error is the 400 message.
pub(crate) fn parse(src: &str) -> Result<Expr, String> {
    let lexer = Lexer { src, chars: src.char_indices().collect(), pos: 0 };
    let toks = lexer.tokens()?;
    if toks.is_empty() {
        return Err("The $filter expression is empty.".into());
    }
    let mut parser = Parser { src, toks, pos: 0, depth: 0 };
    let expr = parser.or()?;
    if parser.pos != parser.toks.len() {
        return Err(parser.error());
    }
    Ok(expr)
}

/// Static type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExprTy {
    Val(Ty),
    Null,
}

fn edm(t: ExprTy) -> &'static str {
    match t {
        ExprTy::Val(ty) => ty.edm_name(),
        ExprTy::Null => "<null>",
    }
}

fn numeric(t: ExprTy) -> bool {
    matches!(t, ExprTy::Val(Ty::Dec | Ty::Int))
}

/// Checks field names and operand types against the entity contract.
pub(crate) fn check(expr: &Expr, schema: &Schema) -> Result<(), String> {
    match type_of(expr, schema)? {
        ExprTy::Val(Ty::Bool) => Ok(()),
        other => Err(format!("The $filter expression must evaluate to a single boolean value, not {}.", edm(other))),
    }
}

fn type_of(expr: &Expr, schema: &Schema) -> Result<ExprTy, String> {
    let boolean = ExprTy::Val(Ty::Bool);
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            for side in [a, b] {
                if type_of(side, schema)? != boolean {
                    return Err("The operands of 'and'/'or' must be boolean expressions.".into());
                }
            }
            Ok(boolean)
        }
        Expr::Not(inner) => {
            if type_of(inner, schema)? != boolean {
                return Err("The operand of 'not' must be a boolean expression.".into());
            }
            Ok(boolean)
        }
        Expr::Cmp(op, a, b) => {
            let (ta, tb) = (type_of(a, schema)?, type_of(b, schema)?);
            let compatible = ta == tb || ta == ExprTy::Null || tb == ExprTy::Null || (numeric(ta) && numeric(tb));
            let ordered = !matches!(op, CmpOp::Eq | CmpOp::Ne);
            if !compatible || (ordered && (ta == boolean || tb == boolean)) {
                return Err(format!(
                    "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{}'.",
                    edm(ta),
                    edm(tb),
                    op.kind_name()
                ));
            }
            Ok(boolean)
        }
        Expr::Call(func, a, b) => {
            for side in [a, b] {
                let t = type_of(side, schema)?;
                if t != ExprTy::Val(Ty::Str) {
                    let name = match func {
                        Func::SubstringOf => "substringof",
                        Func::StartsWith => "startswith",
                        Func::EndsWith => "endswith",
                    };
                    return Err(format!(
                        "No function signature for the function with name '{name}' matches the specified arguments ({}).",
                        edm(t)
                    ));
                }
            }
            Ok(boolean)
        }
        Expr::Field(path) => resolve(path, schema).map(ExprTy::Val),
        Expr::Custom { ty, view, .. } => {
            if !schema.custom_views.contains(&view.as_str()) {
                return Err(format!(
                    "'{view}' is not a data view of '{}' usable in $filter; use one of: {}.",
                    schema.name,
                    schema.custom_views.join(", ")
                ));
            }
            Ok(ExprTy::Val(ty.value_ty()))
        }
        Expr::Lit(lit) => Ok(match lit {
            Lit::Str(_) => ExprTy::Val(Ty::Str),
            Lit::Num(d) if d.scale() == 0 => ExprTy::Val(Ty::Int),
            Lit::Num(_) => ExprTy::Val(Ty::Dec),
            Lit::Bool(_) => boolean,
            Lit::Null => ExprTy::Null,
            Lit::Date(_) => ExprTy::Val(Ty::Date),
        }),
    }
}

fn resolve(path: &[String], schema: &Schema) -> Result<Ty, String> {
    let Some((last, parents)) = path.split_last() else { return Err("Empty field name in $filter.".into()) };
    let mut current = schema;
    for segment in parents {
        if current.collection(segment).is_some() {
            return Err(format!("Filtering on the detail entity '{segment}' is not supported."));
        }
        current = current
            .linked(segment)
            .ok_or_else(|| format!("Could not find a property named '{segment}' on type '{}'.", current.name))?;
    }
    if current.collection(last).is_some() || current.linked(last).is_some() {
        return Err(format!("'{last}' is an entity, not a field, and cannot be compared."));
    }
    current
        .field(last)
        .map(|f| f.ty)
        .ok_or_else(|| format!("Could not find a property named '{last}' on type '{}'.", current.name))
}

/// Evaluation result: a value or null.
type Out = Option<Val>;

/// True when `rec` satisfies a checked expression.
pub(crate) fn matches(expr: &Expr, rec: &Record) -> bool {
    matches!(eval(expr, rec), Some(Val::Bool(true)))
}

fn eval(expr: &Expr, rec: &Record) -> Out {
    let truth = |v: Out| matches!(v, Some(Val::Bool(true)));
    Some(match expr {
        Expr::Or(a, b) => Val::Bool(truth(eval(a, rec)) || truth(eval(b, rec))),
        Expr::And(a, b) => Val::Bool(truth(eval(a, rec)) && truth(eval(b, rec))),
        Expr::Not(inner) => Val::Bool(!truth(eval(inner, rec))),
        Expr::Cmp(op, a, b) => Val::Bool(compare(*op, eval(a, rec), eval(b, rec))),
        Expr::Call(func, a, b) => {
            let (Some(Val::Str(x)), Some(Val::Str(y))) = (eval(a, rec), eval(b, rec)) else {
                return Some(Val::Bool(false));
            };
            let (x, y) = (x.to_lowercase(), y.to_lowercase());
            Val::Bool(match func {
                Func::SubstringOf => y.contains(&x),
                Func::StartsWith => x.starts_with(&y),
                Func::EndsWith => x.ends_with(&y),
            })
        }
        Expr::Field(path) => {
            let (last, parents) = path.split_last()?;
            let mut current = rec;
            for segment in parents {
                current = current.linked.get(segment)?;
            }
            return current.values.get(last).cloned();
        }
        Expr::Custom { view, field, .. } => return rec.custom.get(view)?.get(field)?.value.clone(),
        Expr::Lit(lit) => match lit {
            Lit::Str(s) => Val::Str(s.clone()),
            Lit::Num(d) => Val::Dec(*d),
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Null => return None,
            Lit::Date(d) => Val::Date(*d),
        },
    })
}

fn order(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Dec(_) | Val::Int(_), Val::Dec(_) | Val::Int(_)) => {
            let num = |v: &Val| match v {
                Val::Dec(d) => *d,
                Val::Int(i) => Decimal::from(*i),
                _ => Decimal::ZERO,
            };
            Some(num(a).cmp(&num(b)))
        }
        _ => None,
    }
}

fn compare(op: CmpOp, a: Out, b: Out) -> bool {
    match (a, b) {
        (None, None) => matches!(op, CmpOp::Eq | CmpOp::Ge | CmpOp::Le),
        (None, Some(_)) | (Some(_), None) => op == CmpOp::Ne,
        (Some(x), Some(y)) => match order(&x, &y) {
            None => op == CmpOp::Ne,
            Some(o) => match op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acumatica::schema;
    use crate::acumatica::state::CustomVal;

    fn bill() -> Record {
        let mut r = Record::with_new_id();
        r.set_str("Vendor", "V000123");
        r.set_str("VendorRef", "O'Brien-1");
        r.set("Amount", Val::Dec(Decimal::new(24550, 2)));
        r.set("Hold", Val::Bool(true));
        r.set("Date", Val::Date(parse_date("2024-03-15").unwrap()));
        r.custom
            .entry("Document".into())
            .or_default()
            .insert("UsrConcurKey".into(), CustomVal { ty: CustomType::String, value: Some(Val::Str("K1".into())) });
        r
    }

    fn eval_str(src: &str) -> Result<bool, String> {
        let schema = schema::entity("Bill").unwrap().schema;
        let expr = parse(src)?;
        check(&expr, schema)?;
        Ok(matches(&expr, &bill()))
    }

    #[test]
    fn evaluates_the_documented_operators() {
        assert_eq!(eval_str("Vendor eq 'V000123' and VendorRef eq 'O''Brien-1'"), Ok(true));
        assert!(eval_str("vendor eq 'x'").is_err(), "field names are case-sensitive");
        assert_eq!(eval_str("Vendor eq 'v000123'"), Ok(true), "text compares case-insensitively");
        assert_eq!(eval_str("not (Amount gt 245.5) or Hold eq false"), Ok(true));
        assert_eq!(eval_str("Amount ge 245.50M and Amount lt 246"), Ok(true));
        assert_eq!(eval_str("substringof('brien',VendorRef)"), Ok(true));
        assert_eq!(eval_str("startswith(Vendor,'V00') and endswith(Vendor,'123')"), Ok(true));
        assert_eq!(eval_str("Date gt datetimeoffset'2024-03-14T10:31:28.402+00:00'"), Ok(true));
        assert_eq!(eval_str("cf.String(f='Document.UsrConcurKey') eq 'K1'"), Ok(true));
        assert_eq!(eval_str("cf.String(f='Document.UsrOther') eq 'K1'"), Ok(false));
        assert_eq!(eval_str("Description eq null and Description ne 'x'"), Ok(true));
        assert_eq!(eval_str("1 eq 1.0 and -2 lt 0"), Ok(true));
        let deep = format!("{}Hold eq true{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(eval_str(&deep).is_err(), "deep nesting is refused, not a stack overflow");
        assert!(eval_str(&"not ".repeat(10_000)).is_err());
    }

    #[test]
    fn rejects_malformed_or_ill_typed_filters() {
        for bad in [
            "Vendor eq",
            "Vendor eq 'V1",
            "Vendor == 'V1'",
            "(Vendor eq 'V1'",
            "Amount eq 'abc'",
            "Vendor",
            "Details/Amount eq 1",
            "Nope eq 1",
            "tolower(Vendor) eq 'x'",
            "cf.String(f='Transactions.UsrX') eq 'a'",
            "Date gt datetimeoffset'yesterday'",
            "",
            "-",
            "1 eq",
        ] {
            assert!(eval_str(bad).is_err(), "{bad} should be rejected");
        }
    }
}
