-- load-raw.sql - synthetic raw events straight into the raw store, for the
-- analytics benchmark (tools/bench/analytics). psql variables:
--   :n       events in this chunk          :first   id offset of the chunk
--   :venues  venue count                   :span    seconds of history, ending now
-- Events are what ingest would have stored: ticket.purchased (85%, price
-- 5.00..500.00 in cents, quantity 1..4, channel and eventType dims) and
-- ticket.refunded (5%, 10..100.00), the rest ticket.scanned; customer hashes
-- from 200 customers per venue. Rows are inserted in occurred_at order of
-- their chunk, as ingest writes them.
INSERT INTO raw_event_ids (id, occurred_at)
SELECT 'bench-' || g, now() - make_interval(secs => (hashint4(g) & 2147483647)::bigint % (:span))
FROM generate_series(:first::int, :first::int + :n - 1) g;

INSERT INTO raw_events (id, type, venue_id, event_id, customer_hash, session_id,
                        occurred_at, received_at, revenue_cents, quantity, payload)
SELECT id, type, venue, ev, cust, NULL, at, now(), rev, qty,
       jsonb_build_object('id', id, 'type', type, 'occurredAt', at, 'venueId', venue,
                          'eventId', ev, 'userId', cust,
                          'data', jsonb_build_object('ticketId', 't' || g, 'orderId', 'o' || g,
                                                     'price', price / 100.0, 'quantity', qty,
                                                     'amount', price / 100.0,
                                                     'channel', channel, 'eventType', etype))
FROM (
  SELECT g, 'bench-' || g AS id,
         now() - make_interval(secs => (hashint4(g) & 2147483647)::bigint % (:span)) AS at,
         'venue-' || (1 + (hashint4(g + 1) & 2147483647) % :venues) AS venue,
         'event-' || (1 + (hashint4(g + 2) & 2147483647) % 20) AS ev,
         encode(sha256(('c' || (hashint4(g + 3) & 2147483647) % 200)::bytea), 'hex') AS cust,
         CASE WHEN (hashint4(g + 4) & 2147483647) % 100 < 85 THEN 'ticket.purchased'
              WHEN (hashint4(g + 4) & 2147483647) % 100 < 90 THEN 'ticket.refunded'
              ELSE 'ticket.scanned' END AS type,
         500 + (hashint4(g + 5) & 2147483647) % 49501 AS price,
         1 + (hashint4(g + 6) & 2147483647) % 4 AS q,
         (ARRAY['online','box_office','mobile','partner'])[1 + (hashint4(g + 7) & 2147483647) % 4] AS channel,
         (ARRAY['concert','sports','theater','comedy'])[1 + (hashint4(g + 8) & 2147483647) % 4] AS etype
  FROM generate_series(:first::int, :first::int + :n - 1) g
) s,
LATERAL (SELECT CASE type WHEN 'ticket.purchased' THEN price * q
                          WHEN 'ticket.refunded' THEN -(1000 + price % 9001) ELSE 0 END AS rev,
                CASE type WHEN 'ticket.purchased' THEN q ELSE 0 END AS qty) d
ORDER BY at;
