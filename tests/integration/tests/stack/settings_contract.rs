//! The other side of the template test `every_function_env_var_resolves`:
//! each function's typed `Settings` reads exactly the variables
//! infra/template.yaml gives that function. Runs without a stack: reading
//! settings touches no AWS.

use std::collections::BTreeMap;

use localstack::{MOTO_ACCOUNT_ID, StackValues, Template, resolve_function_env};
use platform::{ConfigError, Env};

/// Set by the template's Globals for the runtime, logging and metrics: read
/// by the platform's start-up and telemetry, not as a function's settings.
const NOT_SETTINGS: [&str; 3] = ["RUST_LOG", "STAGE", "METRICS_NAMESPACE"];

fn template_env() -> BTreeMap<String, BTreeMap<String, String>> {
    let template = Template::bundled().expect("infra/template.yaml parses");
    let mut values = StackValues::predicted(&template, "unit", "us-east-1", MOTO_ACCOUNT_ID, &BTreeMap::new()).unwrap();
    values.parameters.insert("ConcurAppSecretArn".into(), "arn:aws:secretsmanager:us-east-1:1:secret:app".into());
    resolve_function_env(&template, &values).expect("every variable resolves")
}

type ReadSettings = fn(&Env) -> Result<(), ConfigError>;

fn functions() -> [(&'static str, ReadSettings); 6] {
    [
        ("ErpPosterFunction", |env| erp_poster::Settings::from_env(env).map(drop)),
        ("FileIntakeFunction", |env| file_intake::Settings::from_env(env).map(drop)),
        ("EventIntakeFunction", |env| event_intake::Settings::from_env(env).map(drop)),
        ("IonInboxFunction", |env| ion_inbox::Settings::from_env(env).map(drop)),
        ("OAuthCallbackFunction", |env| oauth_callback::quick_connect::Settings::from_env(env).map(drop)),
        ("ScheduledPollerFunction", |env| scheduled_poller::Settings::from_env(env).map(drop)),
    ]
}

#[test]
fn each_function_reads_every_variable_the_template_gives_it_and_no_other() {
    let all = template_env();
    for (function, read) in functions() {
        let env = &all[function];
        // Everything the settings require is set by the template.
        if let Err(e) = read(&Env::from_map(env.clone())) {
            panic!("{function}: the template's environment is not enough: {e}");
        }
        // Everything the template sets is read: a required variable is
        // missed when absent, an optional one is parsed when present.
        for name in env.keys().filter(|n| !NOT_SETTINGS.contains(&n.as_str())) {
            let mut without = env.clone();
            without.remove(name);
            let read_it = match read(&Env::from_map(without)) {
                Err(e) => e.name == name,
                Ok(()) => {
                    let mut garbled = env.clone();
                    garbled.insert(name.clone(), "not-a-valid-value".into());
                    read(&Env::from_map(garbled)).is_err_and(|e| e.name == name)
                }
            };
            assert!(read_it, "{function}: the template sets {name}, which its settings do not read");
        }
    }
}
