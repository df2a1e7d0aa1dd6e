//! Request parameters: a compact per-endpoint schema, Proxmox's validation messages, typed access.
//!
//! Each endpoint declares its parameters (path, query and body alike, as Proxmox does) in a small
//! text form: `name:type`, a `!` after the name marks it required, `name[n]` stands for `name0`,
//! `name1`, … Types: `str`, `re(PATTERN)` (a string matching the schema's Perl pattern, anchored),
//! `int`, `int(MIN..MAX)`, `num`, `num(MIN..MAX)`, `bool`, `enum(a|b)`, `vmid`.
//! Validation coerces values (booleans to 0/1, integers to numbers) and fails like
//! `PVE::JSONSchema`: 400 "Parameter verification failed." with an `errors` map.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Number, Value};

use crate::error::ApiError;

/// The JSON-schema type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `string` (enumerations included).
    String,
    /// `integer`.
    Integer,
    /// `number`.
    Number,
    /// `boolean`, sent as 0/1.
    Boolean,
}

impl ParamType {
    /// The schema's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }
}

/// One declared parameter of an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The name; indexed families are written `net[n]`.
    pub name: String,
    /// The value type.
    pub ty: ParamType,
    /// Whether the parameter must be present.
    pub required: bool,
    /// Allowed values for enumerations (empty otherwise).
    pub enum_values: Vec<String>,
    /// Inclusive lower bound for numbers.
    pub minimum: Option<f64>,
    /// Inclusive upper bound for numbers.
    pub maximum: Option<f64>,
    /// The schema's regular expression (Perl syntax, as in the schema), for strings.
    pub pattern: Option<String>,
}

/// Translates a schema pattern (Perl) into an anchored Rust regex, like `m/^$pattern$/`.
/// Perl without `use utf8` treats `\w`, `\d` and `\s` as ASCII classes, so the ASCII form is
/// tried first; the Unicode form serves patterns that ASCII mode rejects.
pub fn pattern_regex(perl: &str) -> Result<Regex, regex::Error> {
    let rust = perl.replace("(?^:", "(?:").replace("(?^i:", "(?i:");
    Regex::new(&format!("(?-u:^(?:{rust})$)")).or_else(|_| Regex::new(&format!("^(?:{rust})$")))
}

/// A spec with its compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub spec: ParamSpec,
    re: Option<Regex>,
}

/// Compiles specs; a pattern that does not compile is dropped (and caught by the conformance test).
pub(crate) fn compile(specs: Vec<ParamSpec>) -> Vec<Compiled> {
    specs
        .into_iter()
        .map(|spec| {
            let re = spec.pattern.as_deref().and_then(|p| pattern_regex(p).ok());
            Compiled { spec, re }
        })
        .collect()
}

impl ParamSpec {
    fn matches(&self, key: &str) -> bool {
        match self.name.strip_suffix("[n]") {
            Some(prefix) => key.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty()
                    && rest.len() <= 3
                    && rest.bytes().all(|b| b.is_ascii_digit())
                    && (rest == "0" || !rest.starts_with('0'))
            }),
            None => self.name == key,
        }
    }
}

/// Parses the compact text form into parameter specs.
pub(crate) fn parse_specs(text: &str) -> Vec<ParamSpec> {
    text.split_whitespace().filter_map(parse_one).collect()
}

fn parse_range(inner: &str) -> (Option<f64>, Option<f64>) {
    let (lo, hi) = inner.split_once("..").unwrap_or((inner, ""));
    (lo.parse().ok(), hi.parse().ok())
}

/// Expands `scsi0..30` into `scsi0`, …, `scsi30`; other items stay as they are.
fn expand_enum_item(item: &str) -> Vec<String> {
    if let Some((head, hi)) = item.split_once("..") {
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, lo) = head.split_at(head.len() - digits);
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) {
            return (lo..=hi).map(|i| format!("{prefix}{i}")).collect();
        }
    }
    vec![item.to_owned()]
}

fn parse_one(token: &str) -> Option<ParamSpec> {
    let (name, ty) = token.split_once(':')?;
    let (name, required) = match name.strip_suffix('!') {
        Some(n) => (n, true),
        None => (name, false),
    };
    let (base, arg) = match ty.split_once('(') {
        Some((b, rest)) => (b, rest.strip_suffix(')').unwrap_or(rest)),
        None => (ty, ""),
    };
    let mut spec = ParamSpec {
        name: name.to_owned(),
        ty: ParamType::String,
        required,
        enum_values: Vec::new(),
        minimum: None,
        maximum: None,
        pattern: None,
    };
    match base {
        "str" => {}
        "re" => spec.pattern = Some(arg.to_owned()),
        "int" | "num" => {
            spec.ty = if base == "int" {
                ParamType::Integer
            } else {
                ParamType::Number
            };
            if !arg.is_empty() {
                (spec.minimum, spec.maximum) = parse_range(arg);
            }
        }
        "vmid" => {
            spec.ty = ParamType::Integer;
            spec.minimum = Some(100.0);
            spec.maximum = Some(999_999_999.0);
        }
        "bool" => spec.ty = ParamType::Boolean,
        "enum" => spec.enum_values = arg.split('|').flat_map(expand_enum_item).collect(),
        _ => return None,
    }
    Some(spec)
}

/// Validated, coerced request parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub BTreeMap<String, Value>);

impl Params {
    /// A string parameter (numbers are rendered).
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }
    /// An integer parameter.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Value::as_i64)
    }
    /// A number parameter.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(Value::as_f64)
    }
    /// A boolean parameter (stored as 0/1).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.int(key).map(|v| v != 0)
    }
    /// The path's `vmid` as a u32 (always present on guest routes after validation).
    pub fn vmid(&self) -> u32 {
        self.int("vmid")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    }
    /// A string parameter that validation made required.
    pub fn req(&self, key: &str) -> &str {
        self.str(key).unwrap_or_default()
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn raw_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn coerce(c: &Compiled, raw: &Value) -> Result<Value, String> {
    let v = coerce_type(&c.spec, raw)?;
    if let (Some(re), Value::String(s)) = (&c.re, &v) {
        if !re.is_match(s) {
            return Err("value does not match the regex pattern".to_owned());
        }
    }
    Ok(v)
}

fn coerce_type(spec: &ParamSpec, raw: &Value) -> Result<Value, String> {
    match spec.ty {
        ParamType::Boolean => match raw {
            Value::Bool(b) => Ok(Value::from(u8::from(*b))),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(Value::from(n.as_i64().unwrap_or(0)))
            }
            Value::String(s) if s == "0" || s == "1" => Ok(Value::from(u8::from(s == "1"))),
            other => Err(format!(
                "type check ('boolean') failed - got '{}'",
                raw_text(other)
            )),
        },
        ParamType::Integer => {
            let n = match raw {
                Value::Number(n) if n.is_i64() => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            let n = n.ok_or_else(|| {
                format!("type check ('integer') failed - got '{}'", raw_text(raw))
            })?;
            check_range(spec, n as f64)?;
            Ok(Value::from(n))
        }
        ParamType::Number => {
            let n = match raw {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let n = n
                .filter(|n| n.is_finite())
                .ok_or_else(|| format!("type check ('number') failed - got '{}'", raw_text(raw)))?;
            check_range(spec, n)?;
            Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
        }
        ParamType::String => {
            let s = match raw {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => u8::from(*b).to_string(),
                other => {
                    return Err(format!(
                        "type check ('string') failed - got '{}'",
                        raw_text(other)
                    ))
                }
            };
            if !spec.enum_values.is_empty() && !spec.enum_values.contains(&s) {
                return Err(format!(
                    "value '{s}' does not have a value in the enumeration '{}'",
                    spec.enum_values.join(", ")
                ));
            }
            Ok(Value::String(s))
        }
    }
}

fn check_range(spec: &ParamSpec, n: f64) -> Result<(), String> {
    if let Some(min) = spec.minimum {
        if n < min {
            return Err(format!(
                "value must have a minimum value of {}",
                fmt_num(min)
            ));
        }
    }
    if let Some(max) = spec.maximum {
        if n > max {
            return Err(format!(
                "value must have a maximum value of {}",
                fmt_num(max)
            ));
        }
    }
    Ok(())
}

/// Validates raw parameters against the specs, like `PVE::JSONSchema::validate`.
pub(crate) fn validate(
    specs: &[Compiled],
    raw: BTreeMap<String, Value>,
) -> Result<Params, ApiError> {
    let mut errors = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        match specs.iter().find(|s| s.spec.matches(&key)) {
            None => {
                errors.insert(
                    key,
                    "property is not defined in schema and the schema does not allow additional properties"
                        .to_owned(),
                );
            }
            Some(spec) => match coerce(spec, &value) {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(msg) => {
                    errors.insert(key, msg);
                }
            },
        }
    }
    for spec in specs.iter().map(|c| &c.spec).filter(|s| s.required) {
        if !out.contains_key(&spec.name) && !errors.contains_key(&spec.name) {
            errors.insert(
                spec.name.clone(),
                "property is missing and it is not optional".to_owned(),
            );
        }
    }
    if errors.is_empty() {
        Ok(Params(out))
    } else {
        Err(ApiError::params(errors))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn coerces_and_rejects_like_pve() {
        let specs = compile(parse_specs(
            r"vmid!:vmid full:bool name:str net[n]:str mode:enum(a|b) size:re(\+?\d+[KMGT]?)",
        ));
        let p = validate(
            &specs,
            raw(json!({"vmid":"100","full":"1","net0":"x","mode":"a","size":"+10G"})),
        )
        .unwrap();
        assert_eq!(p.int("vmid"), Some(100));
        assert_eq!(p.flag("full"), Some(true));
        let err = validate(
            &specs,
            raw(json!({"full":"true","vmid":"5","net00":"x","mode":"c","size":"+1X"})),
        )
        .unwrap_err();
        let errors = err.errors.unwrap();
        assert_eq!(errors["full"], "type check ('boolean') failed - got 'true'");
        assert_eq!(errors["vmid"], "value must have a minimum value of 100");
        assert!(errors["net00"].starts_with("property is not defined"));
        assert_eq!(errors["size"], "value does not match the regex pattern");
        assert_eq!(
            errors["mode"],
            "value 'c' does not have a value in the enumeration 'a, b'"
        );
        let err = validate(&specs, BTreeMap::new()).unwrap_err();
        assert_eq!(
            err.errors.unwrap()["vmid"],
            "property is missing and it is not optional"
        );
    }
}
