-- Tables for the trigger benchmark (bench/async.sh): the article's reading
-- table three times, without a trigger, with an awslambda_fn_async trigger and
-- with an awslambda_fn trigger (and bench/trigger.sh: a fourth for micro-batches).
DROP TABLE IF EXISTS reading_plain, reading_async, reading_sync, reading_batch;
CREATE TABLE reading_plain (id bigserial PRIMARY KEY, sensor text, reading numeric, taken_at timestamptz DEFAULT now());
CREATE TABLE reading_async (LIKE reading_plain INCLUDING ALL);
CREATE TABLE reading_sync (LIKE reading_plain INCLUDING ALL);

CREATE OR REPLACE FUNCTION reading_async_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM awslambda_fn_async('lambdaTempReadingTrigger',
        json_build_object('sensor', NEW.sensor, 'reading', NEW.reading)::text);
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION reading_sync_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM awslambda_fn('lambdaTempReadingTrigger',
        json_build_object('sensor', NEW.sensor, 'reading', NEW.reading)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER reading_async AFTER INSERT ON reading_async FOR EACH ROW EXECUTE FUNCTION reading_async_trigger();
CREATE TRIGGER reading_sync AFTER INSERT ON reading_sync FOR EACH ROW EXECUTE FUNCTION reading_sync_trigger();

-- The same trigger for micro-batches (bench/trigger.sh): its own function
-- name, so that awslambda.async_batch_sizes can batch it and nothing else.
CREATE TABLE reading_batch (LIKE reading_plain INCLUDING ALL);
CREATE OR REPLACE FUNCTION reading_batch_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM awslambda_fn_async('lambdaTempReadingBatch',
        json_build_object('sensor', NEW.sensor, 'reading', NEW.reading)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER reading_batch AFTER INSERT ON reading_batch FOR EACH ROW EXECUTE FUNCTION reading_batch_trigger();
