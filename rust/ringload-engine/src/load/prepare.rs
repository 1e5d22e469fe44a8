//! A [`LoadConfig`] made ready to run: every request encoded once ([`PreparedRequest`]), the rate
//! shape, and the [`LoadPlan`] the workers follow. Depends on `config`, never the reverse.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ringload_http1::RequestSpec;

use crate::error::{
    ConfigError, Conflict, RequestRef, ScenarioProblem, StageProblem, StageRamp, TlsProblem,
};
use crate::load::config::{LoadConfig, ScenarioRequest};
use crate::load::limits::DEFAULT_CONNECTIONS;
use crate::load::stages::Ramp;
use crate::origin::{Scheme, Target};
use crate::proto::h1::render::WireRequest;
use crate::proto::h2::render::H2Request;
use crate::runtime::available_cores;
use crate::stats::EndpointKey;
use crate::template::TemplateContext;

/// A request ready for the workers: in its protocol's form, with what reading its response
/// needs.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    pub wire: WireRequest,
    /// The HTTP/2 form, in HTTP/2 runs.
    pub h2: Option<Arc<H2Request>>,
    pub is_head: bool,
    pub idempotent: bool,
    /// Index of its statistics row.
    pub endpoint: usize,
    pub weight: u32,
}

/// Every request of a run, encoded, and the statistics rows they record into.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequests {
    pub requests: Vec<PreparedRequest>,
    pub endpoints: Vec<EndpointKey>,
}

impl LoadConfig {
    /// The single request to send (no scenario), with URL credentials as `Authorization`
    /// unless a header sets one.
    pub fn request_spec(&self) -> RequestSpec {
        self.spec_for(
            self.method(),
            self.target.path_and_query.clone(),
            &[],
            self.body.clone(),
        )
    }

    /// A request on this run's origin: the run's headers, overridden by `extra` field by field,
    /// plus URL credentials unless a header sets `Authorization`.
    fn spec_for(
        &self,
        method: &str,
        target: String,
        extra: &[(String, String)],
        body: Vec<u8>,
    ) -> RequestSpec {
        let same_name = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| !extra.iter().any(|(other, _)| same_name(name, other)))
            .cloned()
            .collect();
        headers.extend_from_slice(extra);
        if !self.keep_alive {
            headers.retain(|(name, _)| !same_name(name, "connection"));
            headers.push(("Connection".into(), "close".into()));
        }
        let has_authorization = headers
            .iter()
            .any(|(name, _)| same_name(name, "authorization"));
        if let (Some(auth), false) = (&self.target.basic_auth, has_authorization) {
            headers.push(("Authorization".into(), auth.clone()));
        }
        RequestSpec {
            method: method.to_string(),
            target,
            host: self.target.origin.authority.clone(),
            headers,
            body,
        }
    }

    /// HTTP/2 runs: the `:scheme` of their requests.
    fn h2_scheme(&self) -> Option<&'static str> {
        self.http2.map(|_| match self.target.origin.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }

    /// The request target of a scenario request: a path appended to the base URL's path, or
    /// an absolute URL that must be on the run's origin.
    fn scenario_target(&self, request: &ScenarioRequest) -> Result<String, ConfigError> {
        request.validate()?;
        if request.target.starts_with('/') {
            let base = self.target.path_and_query.trim_end_matches('/');
            return Ok(format!("{base}{}", request.target));
        }
        let url = Target::parse(&request.target)?;
        let origin = |t: &Target| (t.origin.scheme, t.origin.host.clone(), t.origin.port);
        if origin(&url) != origin(&self.target) {
            return Err(request.invalid(ScenarioProblem::OtherOrigin {
                url: url.display_url(),
                base: self.target.display_url(),
            }));
        }
        Ok(url.template_path_and_query().to_string())
    }

    /// Encodes every request once and assigns each its statistics row; `templates` is the
    /// run's (its `{{seq}}` counter, the files its templates read).
    fn prepare_in(&self, templates: &mut TemplateContext) -> Result<PreparedRequests, ConfigError> {
        if self.scenario.is_empty() {
            let mut spec = self.request_spec();
            if self.template {
                spec.target = self.target.template_path_and_query().to_string();
            }
            let request = RequestRef::Single {
                url: self.display_url(),
            };
            let templates = self.template.then_some(templates);
            return Ok(PreparedRequests {
                endpoints: vec![EndpointKey {
                    method: spec.method.clone(),
                    name: spec.target.clone(),
                }],
                requests: vec![prepared(spec, 0, 1, templates, &request, self.h2_scheme())?],
            });
        }
        if self.target.path_and_query.contains('?') {
            return Err(ConfigError::ScenarioBaseQuery {
                url: self.target.display_url(),
            });
        }
        let mut endpoints: Vec<EndpointKey> = Vec::new();
        let mut requests = Vec::with_capacity(self.scenario.len());
        for request in &self.scenario {
            let target = self.scenario_target(request)?;
            let spec = self.spec_for(
                request.method(),
                target,
                &request.headers,
                request.body.clone(),
            );
            let key = EndpointKey {
                method: spec.method.clone(),
                name: request.name().to_string(),
            };
            let endpoint = match endpoints.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    endpoints.push(key);
                    endpoints.len() - 1
                }
            };
            let request_ref = request.request_ref();
            requests.push(prepared(
                spec,
                endpoint,
                request.weight,
                Some(&mut *templates),
                &request_ref,
                self.h2_scheme(),
            )?);
        }
        Ok(PreparedRequests {
            requests,
            endpoints,
        })
    }

    /// Checks everything and encodes every request, once: the plan the workers run. Anything
    /// that cannot work is refused here, before any connection is made.
    pub fn plan(&self) -> Result<LoadPlan, ConfigError> {
        self.plan_for(Ending::DurationOrBudget)
    }

    /// The plan of a native-users run ([`crate::load::Run::start_users`]): as [`LoadConfig::plan`],
    /// but it runs until it is stopped, so it needs neither a duration nor a request budget.
    /// Its users are added while it runs; `connections` only sizes its threads.
    pub fn plan_for_users(&self) -> Result<LoadPlan, ConfigError> {
        self.plan_for(Ending::Stop)
    }

    fn plan_for(&self, ending: Ending) -> Result<LoadPlan, ConfigError> {
        self.validate_settings()?;
        let rate = match (self.rate_stages.is_empty(), self.rate) {
            (true, None) => None,
            (true, Some(rate)) => Some(RateShape::Constant(rate)),
            (false, start) => Some(RateShape::Ramp(Arc::new(Ramp::new(
                start.unwrap_or(0.0),
                self.rate_stages.clone(),
                StageRamp::Rate,
            )?))),
        };
        let connection_ramp = (!self.connection_stages.is_empty())
            .then(|| Ramp::new(0.0, self.connection_stages.clone(), StageRamp::Connections))
            .transpose()?
            .map(Arc::new);
        let connections = match (&connection_ramp, self.connections) {
            (None, connections) => connections.unwrap_or(DEFAULT_CONNECTIONS),
            (Some(_), Some(_)) => return Err(Conflict::ConnectionsAndConnectionStages.into()),
            (Some(ramp), None) => {
                // Connection `k` is in use while the target is above `k - 1`: a ramp
                // uses its target rounded up.
                let peak = ramp.peak().ceil();
                if peak < 1.0 {
                    return Err(ConfigError::Stage {
                        ramp: StageRamp::Connections,
                        problem: StageProblem::NeverOneConnection,
                    });
                }
                peak as usize
            }
        };
        let stages = rate
            .as_ref()
            .and_then(RateShape::ramp)
            .or(connection_ramp.as_ref());
        let duration = self.duration.or_else(|| stages.map(|ramp| ramp.duration()));
        if duration.is_none() && self.requests.is_none() && ending == Ending::DurationOrBudget {
            return Err(Conflict::NoDurationNorRequests.into());
        }
        let cores = available_cores().len().max(1);
        let mut templates = TemplateContext::new(self.template_dir.clone());
        let prepared = self.prepare_in(&mut templates)?;
        let tls = match self.target.origin.scheme {
            Scheme::Http if self.tls.client_cert.is_some() => {
                return Err(TlsProblem::CertificateOverHttp {
                    url: self.display_url(),
                }
                .into())
            }
            Scheme::Http => None,
            Scheme::Https => Some((
                crate::net::tls::client_config(&self.tls)?,
                crate::net::tls::server_name(&self.target.origin.host)?,
            )),
        };
        Ok(LoadPlan {
            tls,
            threads: self.threads.unwrap_or(cores).min(connections).max(1),
            config: self.clone(),
            requests: prepared.requests.into(),
            endpoints: prepared.endpoints,
            templates: Arc::new(Mutex::new(templates)),
            connections,
            duration,
            rate,
            connection_ramp,
        })
    }
}

/// What ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Its duration, its stages' end, or its request budget (or a stop before them).
    DurationOrBudget,
    /// Only a stop: native users run as long as their controller wants.
    Stop,
}

impl LoadPlan {
    /// The plan's requests encoded with `headers` in place of the run's own (a native user's
    /// token and cookies); the same statistics rows, in the same order.
    pub(crate) fn requests_with_headers(
        &self,
        headers: Vec<(String, String)>,
    ) -> Result<Arc<[PreparedRequest]>, ConfigError> {
        let config = LoadConfig {
            headers,
            ..self.config.clone()
        };
        // The run's templates: `{{seq}}` counts across every user, files are read once.
        let mut templates = self
            .templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(config.prepare_in(&mut templates)?.requests.into())
    }
}

/// One request ready for the workers: encoded once, or (with `templates`, when it has
/// placeholders) a template rendered for each send.
fn prepared(
    spec: RequestSpec,
    endpoint: usize,
    weight: u32,
    mut templates: Option<&mut TemplateContext>,
    request: &RequestRef,
    h2_scheme: Option<&str>,
) -> Result<PreparedRequest, ConfigError> {
    let wire = WireRequest::new(&spec, templates.as_deref_mut(), request)?;
    let h2 = match h2_scheme {
        Some(scheme) => Some(Arc::new(H2Request::new(&spec, scheme, templates, request)?)),
        None => None,
    };
    Ok(PreparedRequest {
        wire,
        h2,
        is_head: spec.is_head(),
        idempotent: spec.is_idempotent(),
        endpoint,
        weight,
    })
}

/// The open model's rate: constant, or a ramp.
#[derive(Debug, Clone)]
pub(crate) enum RateShape {
    Constant(f64),
    Ramp(Arc<Ramp>),
}

impl RateShape {
    fn ramp(&self) -> Option<&Arc<Ramp>> {
        match self {
            RateShape::Constant(_) => None,
            RateShape::Ramp(ramp) => Some(ramp),
        }
    }

    /// Requests due in the first `seconds` of the run.
    pub fn due_by(&self, seconds: f64) -> f64 {
        match self {
            RateShape::Constant(rate) => rate * seconds,
            RateShape::Ramp(ramp) => ramp.integral(seconds),
        }
    }
}

/// A run ready to start ([`LoadConfig::plan`]): every setting checked, every request encoded
/// once, and what the configuration leaves open decided: the duration (the stages' unless
/// given), the connections (a connection ramp's peak), the workers.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub(crate) config: LoadConfig,
    pub(crate) requests: Arc<[PreparedRequest]>,
    pub(crate) endpoints: Vec<EndpointKey>,
    /// What the requests' templates share: native users' requests are encoded with it too.
    pub(crate) templates: Arc<Mutex<TemplateContext>>,
    pub(crate) connections: usize,
    pub(crate) threads: usize,
    pub(crate) duration: Option<Duration>,
    pub(crate) rate: Option<RateShape>,
    pub(crate) connection_ramp: Option<Arc<Ramp>>,
    /// https: the client configuration every connection shares, and the server name.
    pub(crate) tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

impl LoadPlan {
    pub fn config(&self) -> &LoadConfig {
        &self.config
    }

    /// How long the run lasts, unless a request budget ends it first.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Connections the run opens (at most, with a connection ramp).
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// Worker threads.
    /// The statistics rows, in the order reports and drains number them.
    pub fn endpoints(&self) -> &[EndpointKey] {
        &self.endpoints
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{FileProblem, FileRole};
    use crate::load::stages::Stage;

    fn config(url: &str) -> LoadConfig {
        let mut config = LoadConfig::new(url).unwrap();
        config.duration = Some(Duration::from_secs(1));
        config
    }

    fn stage(secs: u64, target: f64) -> Stage {
        Stage {
            duration: Duration::from_secs(secs),
            target,
        }
    }

    #[test]
    fn a_refused_plan_says_what_and_where() {
        let mut stages = config("http://127.0.0.1:1/");
        stages.rate_stages = vec![stage(1, 5.0), stage(0, 10.0)];
        assert_eq!(
            stages.plan().unwrap_err(),
            ConfigError::Stage {
                ramp: StageRamp::Rate,
                problem: StageProblem::Duration { index: 2 },
            }
        );

        let mut both = config("http://127.0.0.1:1/");
        both.connections = Some(4);
        both.connection_stages = vec![stage(1, 4.0)];
        let error = both.plan().unwrap_err();
        assert_eq!(
            error,
            ConfigError::Conflict(Conflict::ConnectionsAndConnectionStages)
        );
        assert!(error.to_string().starts_with(
            "connections and connection stages both set the connections: the run opens as many"
        ));

        let mut ca = config("https://127.0.0.1:1/");
        ca.tls.ca_file = Some("/nonexistent/ca.pem".into());
        let error = ca.plan().unwrap_err();
        assert_eq!(
            error,
            ConfigError::File {
                role: FileRole::CaFile,
                path: "/nonexistent/ca.pem".into(),
                problem: FileProblem::Missing,
            }
        );
        assert_eq!(
            error.to_string(),
            "CA file /nonexistent/ca.pem does not exist"
        );

        let mut plain = config("http://127.0.0.1:1/");
        plain.tls.client_cert = Some("/x/client.pem".into());
        assert_eq!(
            plain.plan().unwrap_err().to_string(),
            "a client certificate is sent over TLS only; http://127.0.0.1:1/ is http://"
        );

        let mut scenario = config("http://127.0.0.1:1/");
        scenario.scenario = vec![ScenarioRequest::get("http://other:1/x")];
        let error = scenario.plan().unwrap_err();
        assert_eq!(
            error,
            ConfigError::ScenarioRequest {
                name: "http://other:1/x".into(),
                problem: ScenarioProblem::OtherOrigin {
                    url: "http://other:1/x".into(),
                    base: "http://127.0.0.1:1/".into(),
                },
            }
        );
        assert_eq!(
            error.to_string(),
            "scenario request \"http://other:1/x\": http://other:1/x is not on \
             http://127.0.0.1:1/; every request of a scenario goes to the same origin"
        );
    }
}
