//! `$filter`: parse (OData v4 grammar subset), bind against an entity type
//! (attribute names, literal types, enumeration namespace), evaluate.
//!
//! Supported: `eq ne gt ge lt le and or not`, parentheses,
//! `contains(A,'x')`, `startswith(A,'x')`, `endswith(A,'x')`, bare boolean
//! attributes, and the IFS literals of [`super`]. Anything else is a 400.
//!
//! Semantics where the reference is silent: text comparisons are
//! case-sensitive (IFS runs on Oracle's binary collation); an enumeration
//! attribute only compares with a typed enumeration literal of the request's
//! projection (`'Supplier'` alone is a type error); a null attribute is `ne`
//! every non-null literal and fails every ordering comparison.

use std::cmp::Ordering;

use super::Lit;
use super::lexer::{Tok, tokens};
use crate::ifs::schema::{EntityType, Ty};
use crate::ifs::state::{Row, Val};

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

    fn word(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }

    fn ordered(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Contains,
    StartsWith,
    EndsWith,
}

/// Parsed, unbound expression.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Or(Box<Raw>, Box<Raw>),
    And(Box<Raw>, Box<Raw>),
    Not(Box<Raw>),
    Cmp(CmpOp, Box<Raw>, Box<Raw>),
    Call(Func, Box<Raw>, Box<Raw>),
    Field(String),
    Lit(Lit),
}

/// An operand after binding: an attribute or a typed value (`None` = null).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Term {
    Attr(&'static str),
    Val(Option<Val>),
}

/// A bound, type-checked `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(CmpOp, Term, Term),
    Call(Func, Term, Term),
    /// A boolean attribute or literal used as a condition.
    Truth(Term),
}

/// Deepest nesting accepted (keeps recursion bounded).
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

    fn error(&self) -> String {
        let at = self.toks.get(self.pos).map(|(p, _)| *p).unwrap_or(self.src.len());
        format!("Syntax error at position {at} in '{}'.", self.src)
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

    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("The $filter expression is nested more than {MAX_DEPTH} levels deep."));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Raw, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Raw::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Raw, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Raw::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Raw, String> {
        if self.keyword("not") {
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Raw::Not(Box::new(inner)));
        }
        let left = self.primary()?;
        if let Some(Tok::Ident(word)) = self.peek()
            && let Some(op) = CmpOp::from_word(word)
        {
            self.pos += 1;
            let right = self.primary()?;
            return Ok(Raw::Cmp(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Raw, String> {
        let Some(tok) = self.peek().cloned() else { return Err(self.error()) };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Tok::RParen)?;
                Ok(inner)
            }
            Tok::Lit(lit) => {
                self.pos += 1;
                Ok(Raw::Lit(lit))
            }
            Tok::Ident(word) => {
                if CmpOp::from_word(&word).is_some() || matches!(word.as_str(), "and" | "or" | "not") {
                    return Err(self.error());
                }
                self.pos += 1;
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    return self.call(&word);
                }
                Ok(Raw::Field(word))
            }
            _ => Err(self.error()),
        }
    }

    /// A function call; the opening parenthesis is consumed.
    fn call(&mut self, name: &str) -> Result<Raw, String> {
        let func = match name {
            "contains" => Func::Contains,
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            _ => return Err(format!("The function '{name}' is not supported in '{}'.", self.src)),
        };
        self.deeper()?;
        let first = self.or()?;
        self.expect(Tok::Comma)?;
        let second = self.or()?;
        self.expect(Tok::RParen)?;
        self.depth -= 1;
        Ok(Raw::Call(func, Box::new(first), Box::new(second)))
    }
}

/// Parses and binds a `$filter` for entity type `ty` of projection
/// namespace `namespace` (`IfsApp.X`); the error is the 400 message.
pub(crate) fn parse(src: &str, ty: &'static EntityType, namespace: &str) -> Result<Expr, String> {
    let toks = tokens(src)?;
    if toks.is_empty() {
        return Err("The $filter expression is empty.".into());
    }
    if toks.iter().any(|(_, t)| *t == Tok::Equals) {
        return Err(format!("'=' is not an operator in '{src}'; use 'eq'."));
    }
    let mut parser = Parser { src, toks, pos: 0, depth: 0 };
    let raw = parser.or()?;
    if parser.pos != parser.toks.len() {
        return Err(parser.error());
    }
    Binder { ty, namespace }.condition(&raw)
}

struct Binder<'a> {
    ty: &'static EntityType,
    namespace: &'a str,
}

/// Static type of an operand: an attribute type, a literal, or null.
enum OpTy {
    Attr(Ty),
    Lit(Lit),
}

impl Binder<'_> {
    fn condition(&self, raw: &Raw) -> Result<Expr, String> {
        Ok(match raw {
            Raw::Or(a, b) => Expr::Or(Box::new(self.condition(a)?), Box::new(self.condition(b)?)),
            Raw::And(a, b) => Expr::And(Box::new(self.condition(a)?), Box::new(self.condition(b)?)),
            Raw::Not(a) => Expr::Not(Box::new(self.condition(a)?)),
            Raw::Cmp(op, a, b) => self.compare(*op, a, b)?,
            Raw::Call(func, a, b) => {
                let mut terms = Vec::new();
                for side in [a, b] {
                    let (term, ty) = self.operand(side)?;
                    let text = matches!(&ty, OpTy::Attr(Ty::Str) | OpTy::Lit(Lit::Str(_)));
                    if !text {
                        let name = match func {
                            Func::Contains => "contains",
                            Func::StartsWith => "startswith",
                            Func::EndsWith => "endswith",
                        };
                        return Err(format!(
                            "The function '{name}' takes two Edm.String arguments, not {}.",
                            self.describe(&ty)
                        ));
                    }
                    terms.push(term);
                }
                let second = terms.pop().unwrap_or(Term::Val(None));
                let first = terms.pop().unwrap_or(Term::Val(None));
                Expr::Call(*func, first, second)
            }
            Raw::Field(_) | Raw::Lit(_) => {
                let (term, ty) = self.operand(raw)?;
                match ty {
                    OpTy::Attr(Ty::Bool) | OpTy::Lit(Lit::Bool(_)) => Expr::Truth(term),
                    other => {
                        return Err(format!(
                            "The $filter expression must evaluate to Edm.Boolean, not {}.",
                            self.describe(&other)
                        ));
                    }
                }
            }
        })
    }

    fn describe(&self, ty: &OpTy) -> String {
        match ty {
            OpTy::Attr(t) => super::full_edm(*t, self.namespace),
            OpTy::Lit(l) => l.edm(),
        }
    }

    fn operand(&self, raw: &Raw) -> Result<(Term, OpTy), String> {
        match raw {
            Raw::Field(name) => {
                let attr = self.ty.attr(name).ok_or_else(|| {
                    format!("The property '{name}' does not exist in type '{}.{}'.", self.namespace, self.ty.name)
                })?;
                Ok((Term::Attr(attr.name), OpTy::Attr(attr.ty)))
            }
            Raw::Lit(lit) => Ok((Term::Val(lit.own_val()), OpTy::Lit(lit.clone()))),
            _ => Err("A comparison operand must be a property or a literal.".into()),
        }
    }

    fn compare(&self, op: CmpOp, a: &Raw, b: &Raw) -> Result<Expr, String> {
        let (ta, tya) = self.operand(a)?;
        let (tb, tyb) = self.operand(b)?;
        let incompatible = || {
            format!(
                "Incompatible operand types {} and {} for operator '{}'.",
                self.describe(&tya),
                self.describe(&tyb),
                op.word()
            )
        };
        let (ta, tb, ty) = match (&tya, &tyb) {
            (OpTy::Attr(x), OpTy::Attr(y)) => {
                let numeric = |t: &Ty| matches!(t, Ty::Int | Ty::Dec);
                if x != y && !(numeric(x) && numeric(y)) {
                    return Err(incompatible());
                }
                (ta, tb, Some(*x))
            }
            (OpTy::Attr(t), OpTy::Lit(lit)) => (ta, Term::Val(lit.to_val(*t, self.namespace)?), Some(*t)),
            (OpTy::Lit(lit), OpTy::Attr(t)) => (Term::Val(lit.to_val(*t, self.namespace)?), tb, Some(*t)),
            (OpTy::Lit(x), OpTy::Lit(y)) => {
                let same = std::mem::discriminant(x) == std::mem::discriminant(y)
                    || matches!(x, Lit::Null)
                    || matches!(y, Lit::Null);
                if !same {
                    return Err(incompatible());
                }
                (ta, tb, None)
            }
        };
        if op.ordered() && matches!(ty, Some(Ty::Bool)) {
            return Err(format!("The operator '{}' is not defined for Edm.Boolean.", op.word()));
        }
        Ok(Expr::Cmp(op, ta, tb))
    }
}

/// The values of `Attr eq 'v'` terms that every match must satisfy (the
/// top-level `and` chain); how the simulator checks "Company must be given".
pub(crate) fn pinned(expr: &Expr, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    collect_pinned(expr, attr, &mut out);
    out
}

fn collect_pinned(expr: &Expr, attr: &str, out: &mut Vec<String>) {
    match expr {
        Expr::And(a, b) => {
            collect_pinned(a, attr, out);
            collect_pinned(b, attr, out);
        }
        Expr::Cmp(CmpOp::Eq, Term::Attr(name), Term::Val(Some(Val::Str(v))))
        | Expr::Cmp(CmpOp::Eq, Term::Val(Some(Val::Str(v))), Term::Attr(name))
            if *name == attr =>
        {
            out.push(v.clone());
        }
        _ => {}
    }
}

/// True when `row` satisfies the filter.
pub(crate) fn matches(expr: &Expr, row: &Row) -> bool {
    match expr {
        Expr::Or(a, b) => matches(a, row) || matches(b, row),
        Expr::And(a, b) => matches(a, row) && matches(b, row),
        Expr::Not(a) => !matches(a, row),
        Expr::Cmp(op, a, b) => compare(*op, value(a, row), value(b, row)),
        Expr::Call(func, a, b) => {
            let (Some(Val::Str(x)), Some(Val::Str(y))) = (value(a, row), value(b, row)) else { return false };
            match func {
                Func::Contains => x.contains(y.as_str()),
                Func::StartsWith => x.starts_with(y.as_str()),
                Func::EndsWith => x.ends_with(y.as_str()),
            }
        }
        Expr::Truth(t) => matches!(value(t, row), Some(Val::Bool(true))),
    }
}

fn value(term: &Term, row: &Row) -> Option<Val> {
    match term {
        Term::Attr(name) => row.get(name).cloned(),
        Term::Val(v) => v.clone(),
    }
}

/// Order of two values of compatible types (`None` if incomparable).
pub(crate) fn order(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Timestamp(x), Val::Timestamp(y)) => Some(x.cmp(y)),
        (Val::Int(_) | Val::Dec(_), Val::Int(_) | Val::Dec(_)) => Some(a.as_dec()?.cmp(&b.as_dec()?)),
        _ => None,
    }
}

fn compare(op: CmpOp, a: Option<Val>, b: Option<Val>) -> bool {
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
    use crate::ifs::schema::{ACCOUNT, MAN_SUPP_INVOICE};
    use rust_decimal::Decimal;
    use time::macros::date;

    const NS: &str = "IfsApp.ManualSupplierInvoiceHandling";

    fn invoice() -> Row {
        let mut row = Row::default();
        row.values.insert("Company", Val::Str("10".into()));
        row.values.insert("InvoiceId", Val::Int(104_233));
        row.values.insert("Identity", Val::Str("O'NEIL".into()));
        row.values.insert("PartyType", Val::Str("Supplier".into()));
        row.values.insert("InvoiceNo", Val::Str("CNQ-8842".into()));
        row.values.insert("InvoiceDate", Val::Date(date!(2024 - 03 - 15)));
        row.values.insert("GrossCurrAmount", Val::Dec(Decimal::new(24550, 2)));
        row.values.insert("Objstate", Val::Str("Preliminary".into()));
        row
    }

    fn eval(src: &str) -> Result<bool, String> {
        parse(src, &MAN_SUPP_INVOICE, NS).map(|e| matches(&e, &invoice()))
    }

    #[test]
    fn evaluates_ifs_filters() {
        assert_eq!(eval("Company eq '10' and Identity eq 'O''NEIL' and InvoiceNo eq 'CNQ-8842'"), Ok(true));
        assert_eq!(eval("InvoiceNo eq 'cnq-8842'"), Ok(false), "case-sensitive");
        assert_eq!(eval("InvoiceDate ge 2024-03-15 and InvoiceDate lt 2024-03-16"), Ok(true));
        assert_eq!(eval("InvoiceId eq 104233 and GrossCurrAmount gt 245 and GrossCurrAmount le 245.50"), Ok(true));
        assert_eq!(eval("PartyType eq IfsApp.ManualSupplierInvoiceHandling.PartyType'Supplier'"), Ok(true));
        assert_eq!(
            eval("Objstate ne IfsApp.ManualSupplierInvoiceHandling.ManSuppInvoiceState'Preliminary'"),
            Ok(false)
        );
        assert_eq!(
            eval("contains(InvoiceNo,'8842') and startswith(InvoiceNo,'CNQ') and endswith(InvoiceNo,'42')"),
            Ok(true)
        );
        assert_eq!(eval("not (Company eq '20') or DueDate eq null"), Ok(true));
        assert_eq!(eval("DueDate eq null and DueDate ne 2024-01-01 and not (DueDate gt 2024-01-01)"), Ok(true));
        let deep = format!("{}Company eq '10'{}", "(".repeat(1000), ")".repeat(1000));
        assert!(eval(&deep).is_err());
    }

    #[test]
    fn rejects_ill_typed_or_malformed_filters() {
        for bad in [
            "PartyType eq 'Supplier'",
            "PartyType eq IfsApp.SupplierHandling.PartyType'Supplier'",
            "PartyType eq IfsApp.ManualSupplierInvoiceHandling.PartyType'Vendor'",
            "InvoiceDate eq '2024-03-15'",
            "InvoiceId eq '104233'",
            "InvoiceId eq 1.5",
            "Company eq 10",
            "Nope eq 1",
            "Company = '10'",
            "Company eq",
            "Company",
            "contains(InvoiceId,'1')",
            "substringof('x',InvoiceNo)",
            "(Company eq '10'",
            "",
        ] {
            assert!(eval(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn finds_the_pinned_company() {
        let e = parse(
            "Company eq '10' and (ValidUntil ge 2024-03-15 or ValidUntil eq null)",
            &ACCOUNT,
            "IfsApp.AccountsHandling",
        )
        .unwrap();
        assert_eq!(pinned(&e, "Company"), ["10"]);
        let e = parse("Company eq '10' or Company eq '20'", &ACCOUNT, "IfsApp.AccountsHandling").unwrap();
        assert!(pinned(&e, "Company").is_empty());
        let e = parse("BlockedForDirectPosting and '10' eq Company", &ACCOUNT, "IfsApp.AccountsHandling").unwrap();
        assert_eq!(pinned(&e, "Company"), ["10"]);
    }
}
