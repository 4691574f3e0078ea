\echo '-- CREATE EXTENSION awslambda;'
CREATE EXTENSION awslambda;

\echo
\echo '-- The article''s first example: a synchronous call from SELECT.'
\echo '-- SELECT awslambda_fn(''lambdaTest'', ''{"name":"bob"}'');'
SELECT awslambda_fn('lambdaTest', '{"name":"bob"}');

\echo '-- The article''s second example: a PL/pgSQL loop reading a Kinesis stream through Lambda.'
CREATE TABLE sensor_readings (seq_num text PRIMARY KEY, reading jsonb NOT NULL);
CREATE FUNCTION processSensorReadings(stream_name text) RETURNS text AS $$
DECLARE
    rec json; seq_num text := ''; shard_it text := ''; data text;
BEGIN
    LOOP
        rec := awslambda_fn('lambdaReadKinesisStream',
                            json_build_object('StreamName', stream_name,
                                              'SequenceNumber', seq_num,
                                              'NextShardIterator', shard_it)::text)::json;
        data := rec->>'Data';
        EXIT WHEN data IS NULL OR data = '';
        seq_num := rec->>'SequenceNumber';
        shard_it := rec->>'NextShardIterator';
        INSERT INTO sensor_readings VALUES (seq_num, data::jsonb);
    END LOOP;
    RETURN seq_num;
END;
$$ LANGUAGE plpgsql;
\echo '-- SELECT processSensorReadings(''SensorReadings'');'
SELECT processSensorReadings('SensorReadings');
SELECT * FROM sensor_readings ORDER BY seq_num;

\echo '-- The article''s trigger: awslambda_fn_async in an AFTER INSERT trigger.  The'
\echo '-- invocations are queued in the transaction and sent after COMMIT by the'
\echo '-- background dispatcher; a rolled-back insert sends nothing.'
CREATE TABLE temp_reading (id serial PRIMARY KEY, sensor text, reading numeric);
CREATE FUNCTION temp_reading_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM awslambda_fn_async('lambdaTempReadingTrigger',
        json_build_object('sensor', NEW.sensor, 'reading', NEW.reading)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER temp_reading_lambda AFTER INSERT ON temp_reading
    FOR EACH ROW EXECUTE FUNCTION temp_reading_trigger();
BEGIN;
INSERT INTO temp_reading (sensor, reading) VALUES ('rolled-back', 99);
ROLLBACK;
INSERT INTO temp_reading (sensor, reading) VALUES ('kitchen', 21.5), ('garage', 12.0);
DO $$ BEGIN   -- wait (at most 10 s) for the dispatcher
    FOR i IN 1 .. 500 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM awslambda_invocations WHERE finished_at IS NULL);
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
SELECT payload, status, attempts, http_status FROM awslambda_invocations ORDER BY enqueued_at;
\echo '-- Steering the queue: invocations of a paused function stay queued until resumed.'
SELECT awslambda_pause('lambdaTempReading*');
INSERT INTO temp_reading (sensor, reading) VALUES ('attic', 30.5);
SELECT pg_sleep(0.5);
SELECT function_name, queued, paused, due_now, sending FROM awslambda_queue_stats;
SELECT awslambda_resume('lambdaTempReading*');
DO $$ BEGIN   -- wait (at most 10 s) for the dispatcher
    FOR i IN 1 .. 500 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM awslambda_invocations WHERE finished_at IS NULL);
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
SELECT payload, status FROM awslambda_invocations WHERE payload LIKE '%attic%';

\echo '-- The rich API: every Invoke option, the reply as columns, a function error as data.'
\echo '-- SELECT status_code, payload, function_error, executed_version FROM awslambda_invoke(''lambdaTest'', ''{"id":1}'', qualifier => ''prod'');'
SELECT status_code, payload, function_error, executed_version
  FROM awslambda_invoke('lambdaTest', '{"id":1}', qualifier => 'prod');
\echo '-- Fan-out: 200 calls of a 20 ms function, 64 at a time.'
SET awslambda.max_concurrency = 64;
\timing on
SELECT count(*) FILTER (WHERE status_code = 200) AS ok
  FROM awslambda_invoke_many('lambdaSleep', array_fill('{"seconds":0.02}'::jsonb, ARRAY[200]));
\timing off
\echo '-- SQL written for RDS/Aurora''s aws_lambda runs unchanged.'
CREATE EXTENSION aws_lambda CASCADE;
SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('lambdaTest', 'us-east-1'),
                                '{"body": "Hello from Postgres!"}'::json);
\echo '-- Where the credentials come from (never the secret).'
SELECT * FROM awslambda_credentials();

\echo '-- Errors you can act on: the function raised (SQLSTATE 38000).'
\set ON_ERROR_STOP 0
\set VERBOSITY default
SELECT awslambda_fn('lambdaError', '{"reason":"demo"}');
\echo '-- A function that does not exist (SQLSTATE 42883).'
SELECT awslambda_fn('noSuchFunction', '{}');
\set ON_ERROR_STOP 1
\echo '-- What the server called, per function and kind (sync: sessions; async: the dispatcher).'
\echo '-- SELECT function_name, kind, calls, succeeded, function_errors, api_errors, p50_ms, p99_ms FROM awslambda_stat_functions;'
SELECT function_name, kind, calls, succeeded, function_errors, api_errors,
       round(p50_time_ms::numeric, 2) AS p50_ms, round(p99_time_ms::numeric, 2) AS p99_ms
  FROM awslambda_stat_functions ORDER BY function_name, kind;
\echo '-- Done. test/run runs the whole test suite.'
