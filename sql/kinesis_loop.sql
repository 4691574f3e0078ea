--
-- The article's second example: a PL/pgSQL loop that reads every record of a
-- Kinesis stream through a Lambda function and returns the last sequence number.
--
CREATE TABLE sensor_readings (
    seq_num  text PRIMARY KEY,
    reading  jsonb NOT NULL
);

CREATE OR REPLACE FUNCTION processSensorReadings(stream_name text)
RETURNS text AS $$
DECLARE
    rec           json;
    seq_num       text := '';
    shard_it      text := '';
    data          text;
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

SELECT processSensorReadings('SensorReadings');
SELECT count(*) AS records, count(DISTINCT seq_num) AS distinct_seq FROM sensor_readings;
SELECT reading FROM sensor_readings ORDER BY seq_num;

-- Reading again from the last sequence number finds nothing new.
SELECT awslambda_fn('lambdaReadKinesisStream',
       json_build_object('StreamName', 'SensorReadings',
                         'SequenceNumber', (SELECT max(seq_num) FROM sensor_readings))::text)::jsonb->>'Data' AS data_after_last;

-- An unknown stream is the function's own error (SQLSTATE 38000, see errors.sql).
\set VERBOSITY terse
SELECT processSensorReadings('NoSuchStream');
\set VERBOSITY default
DROP FUNCTION processSensorReadings(text);
DROP TABLE sensor_readings;
