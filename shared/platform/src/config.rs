//! Configuration from the environment the SAM template sets (the variable
//! names are the contract with infra/template.yaml).

/// A missing or malformed variable: names it, says where it comes from.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} {problem}; it is set by infra/template.yaml (locally: by the local stack)")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Reads the process environment, or a given map (tests, the demo).
pub struct Env {
    lookup: Lookup,
}

impl Env {
    pub fn process() -> Self {
        Self { lookup: Box::new(|k| std::env::var(k).ok()) }
    }

    pub fn from_map(map: std::collections::BTreeMap<String, String>) -> Self {
        Self { lookup: Box::new(move |k| map.get(k).cloned()) }
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match (self.lookup)(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            Some(_) => Err(ConfigError { name, problem: "is empty".into() }),
            None => Err(ConfigError { name, problem: "is not set".into() }),
        }
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn parsed<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| ConfigError { name, problem: format!("is `{v}`, which is invalid: {e}") }),
        }
    }
}
