//! A route as a file of handlers declares it (`ROUTES`): a method, a path and the handler, put
//! together with every other file's in `routes`.

/// A route: a method, a path, and what serves it (`serve` puts the handler on the method's
/// route). Each file of handlers declares its own in a `ROUTES` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(super) serve: fn(actix_web::Route) -> actix_web::Route,
}

impl Route {
    pub(crate) const fn get(
        path: &'static str,
        serve: fn(actix_web::Route) -> actix_web::Route,
    ) -> Route {
        Route {
            method: "get",
            path,
            serve,
        }
    }

    pub(crate) const fn post(
        path: &'static str,
        serve: fn(actix_web::Route) -> actix_web::Route,
    ) -> Route {
        Route {
            method: "post",
            path,
            serve,
        }
    }

    pub(crate) const fn delete(
        path: &'static str,
        serve: fn(actix_web::Route) -> actix_web::Route,
    ) -> Route {
        Route {
            method: "delete",
            path,
            serve,
        }
    }
}
