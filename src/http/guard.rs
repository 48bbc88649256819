//! What a request must pass before any of its body is read: an admin request's token, checked
//! from the head (a request without a valid one is refused unread, and each address may fail only
//! so often); a console request's session and origin (`console::session::admit`); then room in the budget of bodies read at once, and a deadline for the body to
//! arrive by. Bounds in `crate::limits`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError as _, web};
use futures_util::Stream;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

use super::AppState;
use super::error::ApiError;
use crate::error_codes::ErrorCode;
use crate::service::ServiceError;

/// Lets a request through once its caller is known (admin routes) and its body has room and a
/// deadline; refuses it, unread, otherwise.
pub(crate) async fn admit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if req.path().starts_with("/v1/admin/") {
        match authenticate(&req, &state).await {
            Ok(actor) => {
                req.extensions_mut().insert(actor);
            }
            Err(refusal) => return Ok(refuse(req, refusal)),
        }
    }
    if super::console::session::is_console(req.path())
        && let Err(refusal) = super::console::session::admit(&req, &state).await
    {
        return Ok(refuse(req, refusal));
    }
    if !has_body(req.headers()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let first = state.limits.body_charge_step();
    let wait = state
        .bodies
        .clone()
        .acquire_many_owned(u32::try_from(first).unwrap_or(u32::MAX));
    let Ok(Ok(permit)) = tokio::time::timeout(crate::limits::BODY_BUDGET_WAIT, wait).await else {
        return Ok(refuse(req, busy().error_response()));
    };
    let (late, starved) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let payload = req.take_payload();
    let metered = Metered {
        inner: payload,
        deadline: Box::pin(tokio::time::sleep(state.limits.body_timeout)),
        late: late.clone(),
        starved: starved.clone(),
        bodies: state.bodies.clone(),
        step: first,
        permit,
        received: 0,
        waiting: None,
    };
    req.set_payload(Payload::from(
        Box::pin(metered) as actix_http::BoxedPayloadStream
    ));
    let outcome = next.call(req).await;
    let refusal = if late.load(Ordering::Acquire) {
        let seconds = state.limits.body_timeout.as_secs_f64();
        Some(ApiError::new(
            ErrorCode::BodyTimeout,
            format!("the request's body did not arrive within {seconds} s of its head"),
        ))
    } else if starved.load(Ordering::Acquire) {
        Some(busy())
    } else {
        None
    };
    if let (Ok(res), Some(refusal)) = (&outcome, refusal) {
        let request = res.request().clone();
        let mut response = refusal.error_response();
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(ServiceResponse::new(request, response).map_into_right_body());
    }
    outcome.map(ServiceResponse::map_into_left_body)
}

/// The refusal of a body the budget has no room for.
fn busy() -> ApiError {
    ApiError::new(
        ErrorCode::ServerBusy,
        "the registry is reading as many request bodies as it holds at once; try again in 1 s",
    )
    .retry_after(1)
}

/// The request answered with `response`, its body unread.
fn refuse<B>(req: ServiceRequest, mut response: HttpResponse) -> ServiceResponse<EitherBody<B>> {
    // Whatever body the client goes on sending is not read: the connection ends with the answer.
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    req.into_response(response).map_into_right_body()
}

/// The actor of an admin request's bearer token, or the refusal: 401, or 429 once its address
/// has failed too often.
async fn authenticate(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<crate::service::Actor, HttpResponse> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(super::extract::bearer_token);
    let failure = match token {
        Some(token) => match state.registry.authenticate(token.trim()).await {
            Ok(actor) => return Ok(actor),
            Err(e) => ApiError::from(e),
        },
        None => ApiError::from(ServiceError::Unauthenticated),
    };
    if let (Some(limiter), Some(client)) = (&state.admin_failures, super::client::client_ip(req))
        && let Some(seconds) = super::limiter::wait_of(limiter, client)
    {
        let problem = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many admin requests without a valid token from this address; try again in \
                 {seconds} s"
            ),
        );
        return Err(problem.retry_after(seconds).error_response());
    }
    Err(failure.error_response())
}

/// Whether a request has a body: a `Content-Length` above 0 (or one that cannot be read, which
/// the handler refuses), or a chunked one.
fn has_body(headers: &header::HeaderMap) -> bool {
    match headers.get(header::CONTENT_LENGTH) {
        Some(length) => length
            .to_str()
            .ok()
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_none_or(|n| n > 0),
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// What waits for room in the budget: the chunk that needs it, the wait for the permits, and
/// how long it may last.
type Waiting = (
    web::Bytes,
    Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>>>>,
    Pin<Box<tokio::time::Sleep>>,
);

/// A body charged against the budget as it arrives, in steps (`Limits::body_charge_step`), so a
/// body holds room for what it has sent, not for what it announces: a client announcing large
/// bodies and sending nothing holds a step each. A body that needs room the budget has not had
/// for `BODY_BUDGET_WAIT` fails and says so in `starved`; one that is not whole by its deadline
/// fails and says so in `late`.
struct Metered {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    late: Arc<AtomicBool>,
    starved: Arc<AtomicBool>,
    bodies: Arc<Semaphore>,
    step: usize,
    /// The room held: at least what has been received, up to `MAX_BODY`.
    permit: OwnedSemaphorePermit,
    received: usize,
    waiting: Option<Waiting>,
}

impl Metered {
    /// The permits to take before a chunk that brings the body to `received` bytes goes on.
    fn shortfall(&self) -> usize {
        let held = self.permit.num_permits();
        let wanted = self.received.min(crate::limits::MAX_BODY);
        if wanted <= held {
            return 0;
        }
        (wanted - held)
            .next_multiple_of(self.step)
            .min(crate::limits::MAX_BODY - held)
    }

    fn fail(&self, flag: &AtomicBool, why: &'static str) -> Poll<Option<<Self as Stream>::Item>> {
        flag.store(true, Ordering::Release);
        let error = std::io::Error::new(std::io::ErrorKind::TimedOut, why);
        Poll::Ready(Some(Err(error.into())))
    }
}

impl Stream for Metered {
    type Item = Result<web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some((_, room, wait)) = this.waiting.as_mut() {
            match room.as_mut().poll(cx) {
                Poll::Ready(Ok(more)) => {
                    this.permit.merge(more);
                    let (chunk, _, _) = this.waiting.take().expect("a chunk is waiting");
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Err(_)) => {
                    return this.fail(&this.starved, "the budget of bodies is closed");
                }
                Poll::Pending if wait.as_mut().poll(cx).is_ready() => {
                    return this.fail(&this.starved, "no room for the body in time");
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received = this.received.saturating_add(chunk.len());
                let shortfall = this.shortfall();
                if shortfall == 0 {
                    return Poll::Ready(Some(Ok(chunk)));
                }
                let n = u32::try_from(shortfall).unwrap_or(u32::MAX);
                if let Ok(more) = this.bodies.clone().try_acquire_many_owned(n) {
                    this.permit.merge(more);
                    return Poll::Ready(Some(Ok(chunk)));
                }
                let room = Box::pin(this.bodies.clone().acquire_many_owned(n));
                let wait = Box::pin(tokio::time::sleep(crate::limits::BODY_BUDGET_WAIT));
                this.waiting = Some((chunk, room, wait));
                // Polled again at once, so the wait registers its wake-ups.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending if this.deadline.as_mut().poll(cx).is_ready() => {
                this.fail(&this.late, "the body did not arrive in time")
            }
            other => other,
        }
    }
}
