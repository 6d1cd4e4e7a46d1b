"""One thin function per operationId: unpack, call one query, return."""
