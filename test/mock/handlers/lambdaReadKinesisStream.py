"""Reads a (mock, in-memory) Kinesis stream one record per call.

Event:  {"StreamName": "...", "SequenceNumber": <last seen, "" or null>,
         "NextShardIterator": <from the previous reply, "" or null>}
Reply:  {"Data": <record data text>, "SequenceNumber": <its number>,
         "NextShardIterator": <opaque position after it>}
        or, once the stream is exhausted,
        {"Data": "", "SequenceNumber": <the one given>, "NextShardIterator": <same position>}

The iterator wins over SequenceNumber; with only a SequenceNumber reading
starts AFTER it (AFTER_SEQUENCE_NUMBER); with neither it starts at the
oldest record (TRIM_HORIZON).  Nothing is consumed: the same input always
gives the same output, which is what a retried call needs.
"""
import base64
import hashlib

ACCOUNT_ID = "123456789012"

# Kinesis sequence numbers are 56-digit decimal strings that grow within a
# shard; these are deterministic so expected test output never changes.
_SEQ_BASE = 49590338271490256608559692538361571095921575989136588898
_SEQ_STEP = 1122334455667788990011


def _stream(*data):
    return [{"SequenceNumber": str(_SEQ_BASE + i * _SEQ_STEP), "Data": d}
            for i, d in enumerate(data)]


STREAMS = {
    "SensorReadings": _stream(
        '{"sensor":"s1","temperature":21.5}',
        '{"sensor":"s2","temperature":19.0,"humidity":48}',
        '{"sensor":"s3","temperature":-4.25}',
        '{"sensor":"s1","temperature":22.0,"status":"warm"}',
        '{"sensor":"s4","temperature":0,"note":"caf\\u00e9"}',
    ),
    "EmptyStream": [],
}


class ResourceNotFoundException(Exception):
    """Named like the Kinesis error, so errorType reads the same."""


class InvalidArgumentException(Exception):
    """Named like the Kinesis error for a bad iterator or sequence number."""


def _checksum(stream, position):
    return hashlib.sha256(f"mock-kinesis|{stream}|{position}".encode()).hexdigest()[:16]


def _make_iterator(stream, position):
    raw = f"{stream}|{position}|{_checksum(stream, position)}".encode()
    return "AAAAAAAAAAE" + base64.b64encode(raw).decode()


def _read_iterator(stream, iterator):
    """Position (index of the next record) encoded in an iterator we issued."""
    try:
        raw = base64.b64decode(iterator[len("AAAAAAAAAAE"):], validate=True).decode()
        name, position, check = raw.rsplit("|", 2)
        position = int(position)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentException(f"Invalid ShardIterator: {iterator[:40]}")
    if (not iterator.startswith("AAAAAAAAAAE") or name != stream
            or check != _checksum(stream, position)):
        raise InvalidArgumentException(f"Invalid ShardIterator: {iterator[:40]}")
    return position


def _position_after(records, sequence_number):
    try:
        wanted = int(sequence_number)
    except ValueError:
        raise InvalidArgumentException(
            f"Invalid SequenceNumber: {str(sequence_number)[:60]}")
    for index, record in enumerate(records):
        if int(record["SequenceNumber"]) > wanted:
            return index
    return len(records)


def lambda_handler(event, context):
    stream = event.get("StreamName")
    if stream not in STREAMS:
        raise ResourceNotFoundException(
            f"Stream {stream} under account {ACCOUNT_ID} not found.")
    records = STREAMS[stream]
    sequence_number = event.get("SequenceNumber") or ""
    iterator = event.get("NextShardIterator") or ""

    if iterator:
        position = _read_iterator(stream, iterator)
    elif sequence_number:
        position = _position_after(records, sequence_number)
    else:
        position = 0

    if position >= len(records):
        return {"Data": "", "SequenceNumber": sequence_number,
                "NextShardIterator": iterator or _make_iterator(stream, position)}
    record = records[position]
    return {"Data": record["Data"], "SequenceNumber": record["SequenceNumber"],
            "NextShardIterator": _make_iterator(stream, position + 1)}
