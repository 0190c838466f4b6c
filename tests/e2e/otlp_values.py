"""Helpers to compare what an SDK sent with what Periscope returns (OTLP-JSON values)."""
import base64


def decode_any(value):
    """OTLP-JSON AnyValue → plain Python value."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    if "arrayValue" in value:
        return [decode_any(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: decode_any(kv["value"]) for kv in value["kvlistValue"].get("values", [])}
    return None


def decode_attributes(pairs):
    return {pair["key"]: decode_any(pair["value"]) for pair in pairs}


def normalize(value):
    """SDK attribute values (tuples, mappings) in comparable form."""
    if isinstance(value, (tuple, list)):
        return [normalize(item) for item in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {key: normalize(item) for key, item in value.items()}
    return value


def hex_trace_id(number):
    return format(number, "032x")


def hex_span_id(number):
    return format(number, "016x")
