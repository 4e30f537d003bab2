//! The application: services, their versions, what each version calls, how long it works and
//! how it behaves when a call fails. Bookinfo, the seed document's demo, is built in.

use rand::Rng;
use rand_distr::{Distribution, Exp1};
use sim::SimDuration;

/// A service time distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delay {
    /// Always this long.
    Constant(SimDuration),
    /// Exponentially distributed with this mean.
    Exponential(SimDuration),
}

impl Delay {
    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        match *self {
            Delay::Constant(d) => d,
            Delay::Exponential(mean) => {
                let unit: f64 = Exp1.sample(rng);
                SimDuration::from_secs_f64(mean.as_secs_f64() * unit)
            }
        }
    }
}

/// What a caller does when a call fails (after the proxy's retries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Carry on and answer 200 without that part (Bookinfo's productpage, reviews).
    Degrade,
    /// Answer with this status at once.
    Fail(u16),
}

/// One outgoing call of a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The service called.
    pub service: String,
    /// The caller's reaction to a failure.
    pub on_failure: OnFailure,
}

/// One version of a service (a `version` label value).
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// E.g. `v2`.
    pub name: String,
    /// Work per request, before its calls.
    pub service_time: Delay,
    /// Calls it makes per request.
    pub calls: Vec<Call>,
    /// Whether the calls go out together (else one after another).
    pub parallel: bool,
    /// Marker lines (e.g. "full stars") its answer carries when all its calls succeeded.
    pub markers: u32,
}

/// A service.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Its name, e.g. `reviews`.
    pub name: String,
    /// Bytes of a request to it.
    pub request_bytes: u64,
    /// Bytes of its answer.
    pub response_bytes: u64,
    /// Its versions.
    pub versions: Vec<Version>,
}

/// The application's services.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// Every service.
    pub services: Vec<Service>,
}

impl App {
    /// Istio's Bookinfo: productpage → details, then reviews; reviews v2 and v3 → ratings, v1
    /// calls nothing; productpage and reviews answer 200 without the failed part when a call
    /// fails; a v2 or v3 review page carries two "full stars" lines (one per review), only when
    /// ratings answered. Service times and sizes are typical of the demo on small nodes.
    pub fn bookinfo() -> App {
        let ms = SimDuration::from_millis;
        let call = |service: &str| Call { service: service.to_owned(), on_failure: OnFailure::Degrade };
        let version = |name: &str, mean_ms: u64, calls: Vec<Call>, markers: u32| Version {
            name: name.to_owned(),
            service_time: Delay::Exponential(ms(mean_ms)),
            calls,
            parallel: false,
            markers,
        };
        let service = |name: &str, response_bytes: u64, versions: Vec<Version>| Service {
            name: name.to_owned(),
            request_bytes: 800,
            response_bytes,
            versions,
        };
        App {
            services: vec![
                service("productpage", 5_000, vec![version("v1", 8, vec![call("details"), call("reviews")], 0)]),
                service("details", 400, vec![version("v1", 1, vec![], 0), version("v2", 1, vec![], 0)]),
                service(
                    "reviews",
                    1_200,
                    vec![
                        version("v1", 3, vec![], 0),
                        version("v2", 3, vec![call("ratings")], 2),
                        version("v3", 3, vec![call("ratings")], 2),
                    ],
                ),
                service("ratings", 200, vec![version("v1", 1, vec![], 0), version("v2", 1, vec![], 0)]),
            ],
        }
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::RandomStreams;

    #[test]
    fn bookinfo_has_the_seed_documents_call_graph() {
        let app = App::bookinfo();
        let productpage = &app.service("productpage").unwrap().versions[0];
        let callees: Vec<&str> = productpage.calls.iter().map(|c| c.service.as_str()).collect();
        assert_eq!(callees, ["details", "reviews"]);
        let reviews = app.service("reviews").unwrap();
        assert!(reviews.versions[0].calls.is_empty());
        assert_eq!(reviews.versions[1].calls[0].service, "ratings");
        assert_eq!(reviews.versions.iter().map(|v| v.markers).collect::<Vec<_>>(), [0, 2, 2]);
    }

    #[test]
    fn exponential_delays_have_their_mean() {
        // Drawn as the world draws them: one keyed generator per request.
        let draws = RandomStreams::new(1).keyed("delay");
        let delay = Delay::Exponential(SimDuration::from_millis(4));
        let mean = (0..20_000).map(|i| delay.sample(&mut draws.rng([i, 0, 0])).as_secs_f64()).sum::<f64>() / 20_000.0;
        assert!((mean - 0.004).abs() < 0.0002, "{mean}");
        let constant = Delay::Constant(SimDuration::from_millis(3));
        assert_eq!(constant.sample(&mut draws.rng([0, 0, 0])), SimDuration::from_millis(3));
    }
}
