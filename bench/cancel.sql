-- One round: how long after statement_timeout (100 ms) fires an in-flight
-- call gives control back.  bench/run repeats it and reports the median.
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = 100;
SELECT awslambda_fn('lambdaSleep', '{"seconds": 5}');
RESET statement_timeout;
INSERT INTO cancel_ms VALUES (extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000 - 100);
