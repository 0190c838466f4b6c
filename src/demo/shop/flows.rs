//! The shop's requests: a page view, a product page and a checkout, each a whole trace with
//! its logs, built from HTTP calls (a CLIENT span around a SERVER span) and database queries.

use opentelemetry_proto::tonic::trace::v1::span;

use super::{CLIENT, INTERNAL, MS, SERVER, Shop, SpanSpec};
use crate::bench::workload::{int, kv, string};

impl Shop {
    /// An HTTP call: a CLIENT span in the caller around a SERVER span in the callee whose
    /// children the caller has already placed within `[server_start, server_end]`.
    #[allow(clippy::too_many_arguments)]
    fn http(
        &mut self,
        trace_id: [u8; 16],
        parent: [u8; 8],
        caller: &'static str,
        callee: &'static str,
        route: (&str, &str),
        server_id: [u8; 8],
        server_start: u64,
        server_end: u64,
        error: Option<&str>,
    ) -> u64 {
        let (method, path) = route;
        let status = if error.is_some() { 502 } else { 200 };
        let client_id = self.rng.span_id();
        let client_end = server_end + MS / 2;
        let name = format!("{method} {path}");
        self.push(
            trace_id,
            SpanSpec {
                service: caller,
                id: client_id,
                parent: Some(parent),
                name: &name,
                kind: CLIENT,
                start: server_start - MS / 2,
                end: client_end,
                attributes: vec![
                    kv("http.request.method", string(method)),
                    kv("server.address", string(format!("{callee}.shop.internal"))),
                    kv(
                        "url.full",
                        string(format!("http://{callee}.shop.internal{path}")),
                    ),
                    kv("http.response.status_code", int(status)),
                ],
                error: error.map(|_| "upstream call failed"),
            },
        );
        self.push(
            trace_id,
            SpanSpec {
                service: callee,
                id: server_id,
                parent: Some(client_id),
                name: &name,
                kind: SERVER,
                start: server_start,
                end: server_end,
                attributes: vec![
                    kv("http.request.method", string(method)),
                    kv("http.route", string(path)),
                    kv("http.response.status_code", int(status)),
                ],
                error,
            },
        );
        self.count(callee, path, status);
        client_end
    }

    fn query(
        &mut self,
        trace_id: [u8; 16],
        parent: [u8; 8],
        statement: &str,
        start: u64,
        slow: bool,
    ) -> u64 {
        let duration = if slow {
            self.between(600, 1400)
        } else {
            self.between(1, 8)
        };
        let operation = statement.split_whitespace().next().unwrap_or("QUERY");
        let id = self.rng.span_id();
        let name = format!("{operation} shop");
        self.push(
            trace_id,
            SpanSpec {
                service: "postgres",
                id,
                parent: Some(parent),
                name: &name,
                kind: SERVER,
                start,
                end: start + duration,
                attributes: vec![
                    kv("db.system.name", string("postgresql")),
                    kv("db.namespace", string("shop")),
                    kv("db.query.text", string(statement)),
                ],
                error: None,
            },
        );
        if slow {
            let body = format!(
                "duration: {:.1} ms  statement: {statement}",
                duration as f64 / 1e6
            );
            self.log(
                "postgres",
                start + duration,
                (13, "WARN"),
                body,
                Some((trace_id, id)),
                vec![kv("db.lock_wait", string("true"))],
            );
        }
        start + duration
    }

    /// Adds one user request starting at `start` (ns).
    pub(crate) fn trace(&mut self, start: u64) {
        let pick = self.rng.below(100);
        if pick < 30 {
            self.browse(start);
        } else if pick < 70 {
            self.product(start);
        } else {
            self.checkout(start);
        }
    }

    fn root(
        &mut self,
        trace_id: [u8; 16],
        id: [u8; 8],
        route: (&str, &str),
        span: (u64, u64),
        error: Option<&str>,
    ) {
        let (method, path) = route;
        let status: i64 = if error.is_some() { 502 } else { 200 };
        let name = format!("{method} {path}");
        let user = self.rng.below(5000);
        self.push(
            trace_id,
            SpanSpec {
                service: "frontend",
                id,
                parent: None,
                name: &name,
                kind: SERVER,
                start: span.0,
                end: span.1,
                attributes: vec![
                    kv("http.request.method", string(method)),
                    kv("http.route", string(path)),
                    kv("http.response.status_code", int(status)),
                    kv("user.id", int(user as i64)),
                    kv(
                        "client.address",
                        string(format!("203.0.113.{}", user % 250)),
                    ),
                ],
                error,
            },
        );
        self.count("frontend", path, status);
        let line = format!(
            "203.0.113.{} - - \"{method} {path} HTTP/1.1\" {status} {} {:.1}ms",
            user % 250,
            200 + self.rng.below(9000),
            (span.1 - span.0) as f64 / 1e6
        );
        let severity = if error.is_some() {
            (17, "ERROR")
        } else {
            (9, "INFO")
        };
        self.log(
            "frontend",
            span.1,
            severity,
            line,
            Some((trace_id, id)),
            Vec::new(),
        );
    }

    fn browse(&mut self, start: u64) {
        let trace_id = self.rng.trace_id();
        let root = self.rng.span_id();
        let server = self.rng.span_id();
        let server_start = start + self.between(1, 3);
        let db_end = self.query(
            trace_id,
            server,
            "SELECT id, name, price FROM items ORDER BY rank LIMIT 20",
            server_start + MS,
            false,
        );
        let server_end = db_end + self.between(1, 4);
        let client_end = self.http(
            trace_id,
            root,
            "frontend",
            "inventory",
            ("GET", "/items"),
            server,
            server_start,
            server_end,
            None,
        );
        let end = client_end + self.between(2, 10);
        self.root(trace_id, root, ("GET", "/"), (start, end), None);
    }

    fn product(&mut self, start: u64) {
        let trace_id = self.rng.trace_id();
        let root = self.rng.span_id();
        let server = self.rng.span_id();
        let item = self.rng.below(500);
        let slow = self.rng.chance(4);
        let server_start = start + self.between(1, 3);
        let db_end = self.query(
            trace_id,
            server,
            "SELECT quantity FROM stock WHERE item_id = $1",
            server_start + MS,
            slow,
        );
        let server_end = db_end + self.between(1, 3);
        let client_end = self.http(
            trace_id,
            root,
            "frontend",
            "inventory",
            ("GET", "/stock/{item_id}"),
            server,
            server_start,
            server_end,
            None,
        );
        let end = client_end + self.between(3, 15);
        self.root(trace_id, root, ("GET", "/product/{id}"), (start, end), None);
        if slow {
            self.log(
                "inventory",
                server_end,
                (13, "WARN"),
                format!(
                    "stock lookup for item {item} took {:.0} ms",
                    (server_end - server_start) as f64 / 1e6
                ),
                Some((trace_id, server)),
                vec![kv("item.id", int(item as i64))],
            );
        }
    }

    fn checkout(&mut self, start: u64) {
        let trace_id = self.rng.trace_id();
        let root = self.rng.span_id();
        let checkout = self.rng.span_id();
        let reserve = self.rng.span_id();
        let charge = self.rng.span_id();
        let order = self.next_order;
        self.next_order += 1;
        let declined = self.rng.chance(10);
        let amount = format!("{}.{:02}", 5 + self.rng.below(200), self.rng.below(100));

        let checkout_start = start + self.between(1, 3);
        // checkout → inventory: reserve the items
        let reserve_start = checkout_start + self.between(1, 2);
        let slow_reserve = self.rng.chance(2);
        let reserve_db_end = self.query(
            trace_id,
            reserve,
            "UPDATE stock SET quantity = quantity - $2 WHERE item_id = $1",
            reserve_start + MS,
            slow_reserve,
        );
        let reserve_end = reserve_db_end + self.between(1, 2);
        let after_reserve = self.http(
            trace_id,
            checkout,
            "checkout",
            "inventory",
            ("POST", "/reserve"),
            reserve,
            reserve_start,
            reserve_end,
            None,
        );
        self.log(
            "inventory",
            reserve_end,
            (9, "INFO"),
            format!("reserved items for order {order}"),
            Some((trace_id, reserve)),
            vec![kv("order.id", int(order as i64))],
        );
        // checkout → payments: charge the card
        let charge_start = after_reserve + self.between(1, 2);
        let fraud = self.rng.span_id();
        let fraud_end = charge_start + self.between(5, 25);
        let score = self.rng.below(60) as i64;
        self.push(
            trace_id,
            SpanSpec {
                service: "payments",
                id: fraud,
                parent: Some(charge),
                name: "fraud check",
                kind: INTERNAL,
                start: charge_start + MS,
                end: fraud_end,
                attributes: vec![kv("fraud.score", int(score))],
                error: None,
            },
        );
        let gateway_end = fraud_end + self.between(40, 180);
        let decline = declined.then_some("card declined: insufficient funds");
        let after_charge = self.http(
            trace_id,
            checkout,
            "checkout",
            "payments",
            ("POST", "/charge"),
            charge,
            charge_start,
            gateway_end + MS,
            decline,
        );
        if declined {
            self.log(
                "payments",
                gateway_end,
                (17, "ERROR"),
                format!(
                    "charge declined for order {order}: insufficient funds (amount={amount} EUR)"
                ),
                Some((trace_id, charge)),
                vec![
                    kv("order.id", int(order as i64)),
                    kv("payment.provider", string("acme-pay")),
                ],
            );
        } else {
            self.log(
                "payments",
                gateway_end,
                (9, "INFO"),
                format!("charged {amount} EUR for order {order}"),
                Some((trace_id, charge)),
                vec![
                    kv("order.id", int(order as i64)),
                    kv("payment.provider", string("acme-pay")),
                ],
            );
        }
        let mut checkout_end = after_charge + self.between(1, 3);
        if !declined {
            checkout_end = self.query(
                trace_id,
                checkout,
                "INSERT INTO orders (id, customer_id, total) VALUES ($1, $2, $3)",
                checkout_end,
                false,
            ) + MS;
            self.log(
                "checkout",
                checkout_end,
                (9, "INFO"),
                format!("order {order} placed, total {amount} EUR"),
                Some((trace_id, checkout)),
                vec![kv("order.id", int(order as i64))],
            );
        } else {
            self.log(
                "checkout",
                checkout_end,
                (17, "ERROR"),
                format!("order {order} failed: payment declined"),
                Some((trace_id, checkout)),
                vec![kv("order.id", int(order as i64))],
            );
        }
        let failure = declined.then_some("payment failed");
        let client_end = self.http(
            trace_id,
            root,
            "frontend",
            "checkout",
            ("POST", "/api/checkout"),
            checkout,
            checkout_start,
            checkout_end,
            failure,
        );
        let end = client_end + self.between(2, 6);
        self.root(trace_id, root, ("POST", "/checkout"), (start, end), failure);
    }
}

pub(super) fn exception_event(service: &str, message: &str, time: u64) -> span::Event {
    let stack = format!(
        "Traceback (most recent call last):\n  File \"/app/{service}/handlers.py\", line 88, in handle\n    result = gateway.authorize(card, amount)\n  File \"/app/{service}/gateway.py\", line 41, in authorize\n    raise PaymentError(reason)\n{service}.errors.PaymentError: {message}"
    );
    span::Event {
        time_unix_nano: time.saturating_sub(MS),
        name: "exception".to_string(),
        attributes: vec![
            kv(
                "exception.type",
                string(format!("{service}.errors.PaymentError")),
            ),
            kv("exception.message", string(message)),
            kv("exception.stacktrace", string(stack)),
        ],
        ..Default::default()
    }
}
