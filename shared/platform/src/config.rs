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
        Ok(self.parsed_if_set(name)?.unwrap_or(default))
    }

    /// The variable parsed, `None` when it is not set (or empty).
    pub fn parsed_if_set<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(name)
            .map(|v| v.parse().map_err(|e| ConfigError { name, problem: format!("is `{v}`, which is invalid: {e}") }))
            .transpose()
    }
}

/// A function could not be built at cold start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

/// The audit table and how long its events are kept.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub table: String,
    pub retention_days: i64,
}

impl AuditSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { table: env.required("AUDIT_TABLE")?, retention_days: env.parsed("AUDIT_RETENTION_DAYS", 400_i64)? })
    }
}

/// What every function reads: the connections table, the work queue and
/// the audit trail.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    pub connections_table: String,
    pub work_queue_url: String,
    pub audit: AuditSettings,
}

impl CommonSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            connections_table: env.required("CONNECTIONS_TABLE")?,
            work_queue_url: env.required("WORK_QUEUE_URL")?,
            audit: AuditSettings::from_env(env)?,
        })
    }
}

/// Where the Concur application credentials and the companies' grants are
/// kept (the functions that hold Concur tokens).
#[derive(Debug, Clone)]
pub struct ConcurSettings {
    pub app_secret_id: String,
    /// `<stack>/connections/`: a grant lives at `<prefix><connection>/concur`.
    pub secret_prefix: String,
}

impl ConcurSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            app_secret_id: env.required("CONCUR_APP_SECRET_ID")?,
            secret_prefix: env.required("CONNECTION_SECRET_PREFIX")?,
        })
    }
}

/// The webhook subscriptions this deployment wants (oauth-callback asserts
/// them at each connect, scheduled-poller daily): `CONCUR_EVENTS_URL`,
/// `CONCUR_SUBSCRIPTION_PREFIX` and, optionally, `CONCUR_EVENT_TOPICS`.
pub fn webhook_plan(env: &Env) -> Result<concur::webhooks::WebhookPlan, ConfigError> {
    Ok(concur::webhooks::WebhookPlan::new(
        env.required("CONCUR_EVENTS_URL")?,
        env.required("CONCUR_SUBSCRIPTION_PREFIX")?,
        env.optional("CONCUR_EVENT_TOPICS").as_deref(),
    ))
}

/// What the functions that move documents through the ledger and hold
/// Concur tokens (scheduled-poller, erp-poster) read.
#[derive(Debug, Clone)]
pub struct DocumentFlowSettings {
    pub common: CommonSettings,
    pub ledger_table: String,
    pub concur: ConcurSettings,
}

impl DocumentFlowSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            ledger_table: env.required("LEDGER_TABLE")?,
            concur: ConcurSettings::from_env(env)?,
        })
    }
}
