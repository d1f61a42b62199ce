-- Webhook endpoints: a rate limit is a finite number of requests per second in a sane
-- range (PostgreSQL orders NaN above every number, so `> 0` let nan and infinity in).
-- NOT VALID: rows from before are not rechecked; the deliverer sends those at the
-- nearest bound of the range (README "Webhooks").

alter table delivery.endpoints
    add constraint endpoints_rate_limit_range
    check (rate_limit_per_second between 0.01 and 10000) not valid;
