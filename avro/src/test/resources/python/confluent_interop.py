"""Confluent's Python Avro serializer against a schema registry, for migrator-avro's PythonInteropIT.

Uses confluent_kafka.avro (CachedSchemaRegistryClient + MessageSerializer) from Debian's python3-confluent-kafka,
which encodes with python3-avro. (Debian ships no python3-fastavro, which confluent_kafka.schema_registry.avro's
newer AvroSerializer needs; both write the same Confluent wire format.)

stdin:  {"url": REGISTRY_URL, "jobs": [{"topic": T, "key": false, "schema": AVSC, "encode": [TYPED...], "decode": [HEX...]}]}
stdout: {"jobs": [{"encoded": [HEX...], "decoded": [TYPED...]}]}

TYPED is a record as JSON with Avro's plain values: decimals as decimal strings, bytes as hex, timestamps, dates
and times as numbers (micros, millis, days), unions as the bare value. The script turns it into the Python values
Confluent's serializer expects (Decimal, datetime, date, time, bytes) by walking the schema, and back.
"""
import datetime
import decimal
import json
import sys
import warnings

warnings.simplefilter("ignore")

from confluent_kafka.avro import CachedSchemaRegistryClient, loads  # noqa: E402
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer  # noqa: E402

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DATE = datetime.date(1970, 1, 1)


def logical(schema):
    return schema.get("logicalType") if isinstance(schema, dict) else None


def base_type(schema):
    return schema["type"] if isinstance(schema, dict) else schema


def to_python(schema, value):
    """TYPED JSON -> the Python value python3-avro writes for schema."""
    if value is None:
        return None
    if isinstance(schema, list):  # ["null", X] unions only
        branch = [s for s in schema if s != "null"][0]
        return to_python(branch, value)
    t = base_type(schema)
    lt = logical(schema)
    if t == "record":
        return {f["name"]: to_python(f["type"], value.get(f["name"])) for f in schema["fields"]}
    if t == "array":
        return [to_python(schema["items"], v) for v in value]
    if isinstance(t, (dict, list)):
        return to_python(t, value)
    if lt == "decimal":
        return decimal.Decimal(value)
    if lt == "timestamp-micros":
        return EPOCH + datetime.timedelta(microseconds=value)
    if lt == "timestamp-millis":
        return EPOCH + datetime.timedelta(milliseconds=value)
    if lt == "date":
        return EPOCH_DATE + datetime.timedelta(days=value)
    if lt == "time-micros":
        return (datetime.datetime.min + datetime.timedelta(microseconds=value)).time()
    if t == "bytes":
        return bytes.fromhex(value)
    return value


def to_typed(schema, value):
    """A value python3-avro read -> TYPED JSON."""
    if value is None:
        return None
    if isinstance(schema, list):
        branch = [s for s in schema if s != "null"][0]
        return to_typed(branch, value)
    t = base_type(schema)
    lt = logical(schema)
    if t == "record":
        return {f["name"]: to_typed(f["type"], value.get(f["name"])) for f in schema["fields"]}
    if t == "array":
        return [to_typed(schema["items"], v) for v in value]
    if isinstance(t, (dict, list)):
        return to_typed(t, value)
    if lt == "decimal":
        return str(value)
    if lt == "timestamp-micros":
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    if lt == "timestamp-millis":
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    if lt == "date":
        return (value - EPOCH_DATE).days
    if lt == "time-micros":
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000000 + value.microsecond
    if t == "bytes":
        return bytes(value).hex()
    return value


def main():
    request = json.load(sys.stdin)
    client = CachedSchemaRegistryClient({"url": request["url"]})
    serializer = MessageSerializer(client)
    results = []
    for job in request["jobs"]:
        schema_json = json.loads(job["schema"])
        schema = loads(job["schema"])
        is_key = job.get("key", False)
        encoded = [serializer.encode_record_with_schema(job["topic"], schema, to_python(schema_json, r), is_key=is_key).hex()
                   for r in job.get("encode", [])]
        decoded = [to_typed(schema_json, serializer.decode_message(bytes.fromhex(h), is_key=is_key))
                   for h in job.get("decode", [])]
        results.append({"encoded": encoded, "decoded": decoded})
    json.dump({"jobs": results}, sys.stdout)


if __name__ == "__main__":
    main()
