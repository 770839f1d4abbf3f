//! `serve --sandbox`: Switchboard with nothing installed, against an in-process Intercom simulator.

use intercom_sim::{SimConfig, Simulator};
use switchboard_clock::Clock;

use crate::config::{Config, ConfigError, ConfigIssue, Environment, IntercomEndpoint, LoadedSecrets};
use crate::secrets::{Secret, SecretRef, SecretSlot};
use crate::startup::{self, Application, ServeError};
use crate::webhooks::{Notification, SignedNotification};

/// Contacts the sandbox's simulator starts with, so the API has something to show.
const SANDBOX_CONTACTS: usize = 100;

/// Starts the simulator and the service wired to it, prints how to use them, and serves until Ctrl-C.
pub async fn run(mut config: Config) -> Result<(), ServeError> {
    if config.environment == Environment::Production {
        return Err(ServeError::Config(ConfigError::Invalid(vec![ConfigIssue {
            key: "environment".into(),
            message: "is \"production\", but --sandbox runs against a simulator with generated secrets; \
                      drop --sandbox, or use a development config"
                .into(),
        }])));
    }
    let sim = Simulator::start(SimConfig::default().seed_contacts(SANDBOX_CONTACTS))
        .await
        .map_err(|e| ServeError::Simulator(e.to_string()))?;
    let credentials = sim.default_app().clone();
    let sim_url = sim.base_url();

    let Ok(sim_base) = url::Url::parse(&sim_url) else {
        return Err(ServeError::Simulator(format!("the simulator reported an invalid base URL {sim_url:?}")));
    };
    config.intercom.endpoint = IntercomEndpoint::BaseUrl(sim_base);
    config.intercom.token = Some(SecretRef::Generated(credentials.token.as_str().into()));
    config.intercom.expected_app_id = Some(credentials.app_id.clone());
    config.webhooks.client_secrets = vec![SecretRef::Generated(credentials.client_secret.as_str().into())];
    // The simulator serves a fake status page too; the real one is out of reach of a sandbox.
    if let Ok(status_page) = url::Url::parse(&format!("{sim_url}/_sim/statuspage/api/v2/status.json")) {
        config.status_page.url = status_page;
    }
    let secrets = LoadedSecrets {
        intercom_token: Some(Secret::generated(&SecretSlot::IntercomToken.to_string(), &credentials.token)),
        client_secrets: vec![Secret::generated(
            &SecretSlot::WebhookClientSecret(0).to_string(),
            &credentials.client_secret,
        )],
        ..LoadedSecrets::default()
    };

    let app = Application::build(&config, secrets).await?;
    let gateway = format!("http://{}", app.local_addr());
    println!(
        "{}",
        banner(
            &config,
            &gateway,
            &sim_url,
            &credentials.app_id,
            &credentials.token,
            &credentials.client_secret,
            app.clock().as_ref(),
        )
    );
    tracing::info!(listen = %app.local_addr(), simulator = %sim_url, "sandbox is serving");
    let served = app.run_until(startup::shutdown_signal()).await;
    sim.shutdown().await;
    served?;
    Ok(())
}

/// What a newcomer needs: where everything is and one command that sends a signed test webhook.
fn banner(
    config: &Config,
    gateway: &str,
    sim_url: &str,
    app_id: &str,
    token: &str,
    client_secret: &str,
    clock: &dyn Clock,
) -> String {
    let webhook_url = format!("{gateway}{}", config.webhooks.path);
    // Created on the service's own clock, so the ingress's age check accepts it.
    let SignedNotification { body, signature } = Notification::new(app_id, "ping", clock)
        .item(serde_json::json!({ "type": "ping", "message": "Hello from the sandbox" }))
        .signed(client_secret.as_bytes());
    format!(
        "\nSwitchboard sandbox is running. Nothing here reaches Intercom: the API is a local simulator.\n\n\
         \x20 Gateway     {gateway}\n\
         \x20 Webhooks    {webhook_url}\n\
         \x20 Health      {gateway}/health   (probes: {gateway}/livez, {gateway}/readyz)\n\
         \x20 Simulator   {sim_url}   (app id {app_id})\n\
         \x20 Sim token   {token}   (a simulator test value)\n\
         \x20 Data        {data}\n\n\
         Send a correctly signed test webhook:\n\n\
         \x20 curl -sS -X POST '{webhook_url}' -H 'Content-Type: application/json' -H 'X-Hub-Signature: {signature}' --data '{body}'\n\n\
         Press Ctrl-C to stop.\n",
        data = config.data_dir().display(),
    )
}
