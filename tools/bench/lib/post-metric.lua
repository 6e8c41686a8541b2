-- wrk script: POST /metrics with a fixed, valid body (the seed's example).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"venueId":"venue-1","metricType":"sales","value":1,' ..
           '"dimensions":{"eventType":"concert","channel":"online"}}'
