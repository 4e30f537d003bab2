//! istiod's translation of the Istio configuration for a client proxy, made once per distinct
//! client and shared.
//!
//! What istiod sends a proxy about a service depends only on the proxy's locality (a client here
//! carries no labels), the service and subset, and the endpoints istiod knows. So every proxy of
//! a locality gets the same cluster, and a mesh of a thousand pods per deployment translates each
//! service a handful of times, not once per proxy; every proxy that gets the same assignment
//! shares one [`HostTable`].

use rustc_hash::FxHashMap;

use super::*;
use crate::envoy::cluster::ClusterSettings;
use crate::envoy::host_set::{HostTable, LoadAssignment};

/// Which translation: for whom, of what, from which of istiod's endpoint views.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TranslationKey {
    locality: Rc<Locality>,
    service: usize,
    subset: Option<Rc<str>>,
    /// The push it was sent in; `None`: the endpoints istiod knew when the proxies started.
    push: Option<u32>,
}

/// One translation: the cluster's settings (before per-workload EnvoyFilter patches) and the
/// shared layout of its hosts.
#[derive(Clone, Debug)]
pub(super) struct Translation {
    pub(super) settings: Rc<ClusterSettings>,
    pub(super) table: Rc<HostTable>,
}

/// The translations made so far.
#[derive(Default)]
pub(super) struct Translations {
    made: FxHashMap<TranslationKey, Translation>,
    /// One table per distinct assignment, so that a push that leaves a service's endpoints as
    /// they were hands its proxies the very table they hold.
    tables: FxHashMap<LoadAssignment, Rc<HostTable>>,
}

impl World {
    /// What istiod sends a proxy at `locality` about `service` (or one subset of it): from the
    /// endpoints it knew when the proxies started (`push` is `None`), or in push `push`.
    pub(super) fn translation(
        &mut self,
        locality: &Rc<Locality>,
        service: usize,
        subset: Option<&Rc<str>>,
        push: Option<u32>,
    ) -> Result<Translation, TranslateError> {
        let key = TranslationKey { locality: Rc::clone(locality), service, subset: subset.cloned(), push };
        if let Some(made) = self.translations.made.get(&key) {
            return Ok(made.clone());
        }
        let view = match push {
            None => &self.istiod_view,
            Some(push) => &*self.pushes[push as usize],
        };
        let client = Client { locality: Locality::clone(locality), labels: Default::default() };
        let name = &self.config.app.services[service].name;
        let rule = self.config.istio.destination_rules.iter().find(|r| &r.host == name);
        let endpoints = self.service_endpoints(view, service);
        let built = build(
            &self.config.istio.mesh,
            &client,
            self.config.istio.proxy_concurrency,
            rule,
            subset.map(|s| &**s),
            &endpoints,
        )?;
        let tables = &mut self.translations.tables;
        let table = Rc::clone(tables.entry(built.assignment.assignment).or_insert_with_key(HostTable::new));
        let made = Translation { settings: Rc::new(built.settings), table };
        self.translations.made.insert(key, made.clone());
        Ok(made)
    }

    /// The endpoints of `service` in an endpoint view, as istiod lists them.
    fn service_endpoints(&self, view: &[Vec<usize>], service: usize) -> Vec<ServiceEndpoint> {
        view[service]
            .iter()
            .map(|&p| {
                let pod = &self.topology.pods[p];
                ServiceEndpoint {
                    endpoint: pod.endpoint,
                    locality: Rc::clone(&pod.locality),
                    labels: pod.labels.clone(),
                    weight: 1,
                    health: EdsHealth::Healthy,
                }
            })
            .collect()
    }
}
